/**
 * Takes: issue, bulk issue, use (with its discount on a budget), hold, and the replay of an
 * acknowledged take with its key. Each records what its answer established into the books.
 */
import { exact, takesOf, type Book, type Doubt, type Take } from './books.js';
import { allowedAnswer, comparePrediction, surelyClosed } from './checks.js';
import { perform } from './client.js';
import { bookOf, trace, userAt, userFor, type Ctx } from './context.js';
import { expectHold, expectIssue, expectUse, heldByOwner, type Expected } from './predict.js';

export function addDoubt(book: Book, doubt: Doubt): Doubt {
  book.doubts.push(doubt);
  return doubt;
}

/** A 201 for an id the model has not seen: a new take, unless the answer says it replays. */
export function recordTake(ctx: Ctx, book: Book, take: Take, answer: { replayed: boolean }, doubted: boolean, closedBefore: boolean, what: string): void {
  const { run } = ctx;
  if (book.takes.has(take.id)) {
    if (!answer.replayed) run.violate('replay', `${what}: answered 201 with ${take.id}, a take already acknowledged, without Idempotent-Replayed`);
    return;
  }
  // A fresh key may be answered as a replay: the Upstash client resends a request whose answer
  // it lost, and the script's second run replays the first. The ledger check proves it ran once.
  if (book.lostRecords.has(take.id)) take.recordLost = true;
  book.takes.set(take.id, take);
  if (closedBefore && !doubted && !answer.replayed) run.violate('accepted-while-closed', `${what}: took ${take.id} while the coupon was ${book.status}${book.endsAt !== null && run.now >= book.endsAt ? ' (windows ended)' : ''}`);
}

const predict = (ctx: Ctx, book: Book, expect: () => Expected | null): Expected | null => (!ctx.together && exact(book) ? expect() : null);

export async function issue(ctx: Ctx, op: { c: number; u: number }): Promise<void> {
  const { run } = ctx;
  const book = bookOf(run, op.c);
  const user = userAt(run, op.u);
  const at = run.now;
  const expected = predict(ctx, book, () => expectIssue(book, user, at));
  const closed = surelyClosed(book, at, ctx.moving.has(book.index));
  const key = run.fresh('iss');
  const path = `/v1/coupons/${book.id}/issues`;
  const body = { userId: user };
  let doubt: Doubt | null = null;
  await perform(run, book.index, { method: 'POST', path, body, key }, {
    doubt: () => void (doubt = addDoubt(book, { kind: 'issue', user, ref: null, via: 'issue', end: 'unknown' })),
    settle: (a, doubted, late) => {
      trace(run, `issue c${book.index} ${user} key=${key}${expected ? ` (expect ${expected.ok ? 201 : expected.code})` : ''}`, a);
      if (doubt) Object.assign(doubt, a.status === 201 ? { end: 'took' } : { end: 'refused', code: a.code });
      comparePrediction(run, `issue to ${user} on coupon ${book.index}`, late ? null : expected, a, 201);
      if (a.status !== 201) return allowedAnswer(run, 'issue', a, 201, `issue to ${user} on coupon ${book.index}`);
      const take: Take = { id: String(a.body.issueId), kind: 'issue', user, ref: null, discount: null, at, doubted, hold: null, committed: 'no', restored: 'no', replay: { path, key, body } };
      recordTake(ctx, book, take, a, doubted, closed, `issue to ${user} on coupon ${book.index}`);
    },
  });
}

export async function use(ctx: Ctx, op: { c: number; u: number; holder: boolean; d: number }): Promise<void> {
  const { run } = ctx;
  const book = bookOf(run, op.c);
  const user = userFor(run, book, op.u, op.holder);
  const discount = book.plan.budget === null ? null : op.d;
  const at = run.now;
  const expected = predict(ctx, book, () => expectUse(book, user, discount, at));
  const closed = surelyClosed(book, at, ctx.moving.has(book.index));
  const key = run.fresh('use');
  const orderId = run.fresh('order');
  const path = `/v1/coupons/${book.id}/uses`;
  const body = { userId: user, orderId, ...(discount === null ? {} : { discountAmount: discount }) };
  let doubt: Doubt | null = null;
  await perform(run, book.index, { method: 'POST', path, body, key }, {
    doubt: () => void (doubt = addDoubt(book, { kind: 'use', user, ref: orderId, via: 'use', end: 'unknown' })),
    settle: (a, doubted, late) => {
      trace(run, `use c${book.index} ${user} ${orderId}${discount === null ? '' : ` −${discount}`}${expected ? ` (expect ${expected.ok ? 201 : expected.code})` : ''}`, a);
      if (doubt) Object.assign(doubt, a.status === 201 ? { end: 'took' } : { end: 'refused', code: a.code });
      comparePrediction(run, `use by ${user} on coupon ${book.index}`, late ? null : expected, a, 201);
      if (a.status !== 201) return allowedAnswer(run, 'use', a, 201, `use by ${user} on coupon ${book.index}`);
      const take: Take = { id: String(a.body.useId), kind: 'use', user, ref: orderId, discount, at, doubted, hold: null, committed: 'no', restored: 'no', replay: { path, key, body } };
      recordTake(ctx, book, take, a, doubted, closed, `use by ${user} on coupon ${book.index}`);
    },
  });
}

export async function hold(ctx: Ctx, op: { c: number; u: number; holder: boolean; again: number | null; ttl: number; d: number }): Promise<void> {
  const { run } = ctx;
  const book = bookOf(run, op.c);
  const again = op.again !== null && book.owners.length > 0 ? book.owners[op.again % book.owners.length] : undefined;
  const owner = again?.owner ?? run.fresh('cart');
  const user = again?.user ?? userFor(run, book, op.u, op.holder);
  const discount = again ? again.discount : book.plan.budget === null ? null : op.d;
  if (!again) book.owners.push({ owner, user, discount });
  const at = run.now;
  const expected = predict(ctx, book, () => expectHold(book, user, owner, discount, at));
  const standing = heldByOwner(book, owner, user, at);
  // An earlier hold of this owner in doubt may stand: a replay of it is then no surprise.
  const ownerDoubted = book.doubts.some((d) => d.via === 'hold' && d.ref === owner);
  const closed = surelyClosed(book, at, ctx.moving.has(book.index));
  const body = { userId: user, ownerId: owner, ttlSeconds: op.ttl, ...(discount === null ? {} : { discountAmount: discount }) };
  const what = `hold by ${user} for ${owner} on coupon ${book.index}`;
  let doubt: Doubt | null = null;
  await perform(run, book.index, { method: 'POST', path: `/v1/coupons/${book.id}/holds`, body }, {
    doubt: () => void (doubt = addDoubt(book, { kind: 'use', user, ref: owner, via: 'hold', end: 'unknown' })),
    settle: (a, doubted, late) => {
      trace(run, `hold c${book.index} ${user} ${owner} ttl=${op.ttl}s${discount === null ? '' : ` −${discount}`}${expected ? ` (expect ${expected.ok ? (expected.replayOf ?? 201) : expected.code})` : ''}`, a);
      if (doubt) Object.assign(doubt, a.status === 201 ? { end: 'took' } : { end: 'refused', code: a.code });
      comparePrediction(run, what, late ? null : expected, a, 201);
      if (a.status !== 201) return allowedAnswer(run, 'hold', a, 201, what);
      const id = String(a.body.holdId);
      const expiresAt = Date.parse(String(a.body.expiresAt));
      const known = book.takes.get(id);
      if (known) {
        if (known.hold?.owner !== owner || known.user !== user) run.violate('hold-reentrance', `${what}: answered with ${id}, the hold of ${known.hold?.owner ?? 'a use'}`);
        // In a concurrent moment a release may be answered first yet have run after this hold.
        if (known.restored === 'yes' && !ctx.together) run.violate('hold-reentrance', `${what}: replayed ${id}, which was given back already`);
        // A re-hold must never hand back a hold whose time is up as if it stood.
        // (On an archived coupon the record of a hold that stood at the archive replays it, its time
        // up or not; so on one whose status is unknown, e.g. an archive fired with others.)
        if (known.hold && known.committed !== 'yes' && known.hold.expiresAt <= run.now && book.status !== 'archived' && book.status !== 'unknown') {
          run.violate('hold-reentrance', `${what}: replayed ${id} whose expiresAt ${new Date(known.hold.expiresAt).toISOString()} is past (now ${new Date(run.now).toISOString()}): it should have been given back`);
        }
        // (A late answer was retried past later commands: what was expected when it was sent may have changed.)
        if (!late && expected?.ok && expected.replayOf !== undefined && expected.replayOf !== id) run.violate('hold-reentrance', `${what}: expected its hold ${expected.replayOf}, got ${id}`);
        return;
      }
      // Fired with others, a release of that hold may have run first.
      if (standing && !doubted && !ctx.together) run.violate('hold-reentrance', `${what}: a second hold ${id} while its hold ${standing.id} stands`);
      // Fired with others, or after an earlier hold of this owner whose answer was lost, the
      // owner's other hold (another ttl) may have been made first: this is its replay.
      if (!doubted && !ownerDoubted && !ctx.together && expiresAt !== at + op.ttl * 1000) run.violate('unexpected-answer', `${what}: expiresAt ${String(a.body.expiresAt)} is not now + ${op.ttl} s`);
      const take: Take = { id, kind: 'use', user, ref: owner, discount, at, doubted, hold: { owner, expiresAt }, committed: 'no', restored: 'no', replay: null };
      recordTake(ctx, book, take, a, doubted || ownerDoubted, closed, what);
    },
  });
}

/** Sends an acknowledged take's request again with its key: the first answer, never a second take. */
export async function replay(ctx: Ctx, op: { c: number; k: number }): Promise<void> {
  const { run } = ctx;
  const book = bookOf(run, op.c);
  const candidates = [...book.takes.values()].filter((t) => t.replay !== null);
  const t = candidates[op.k % Math.max(1, candidates.length)];
  if (!t?.replay) return trace(run, `replay c${book.index}: nothing to replay`);
  const { path, key, body } = t.replay;
  const archived = book.status !== 'confirmed' && book.status !== 'paused';
  await perform(run, book.index, { method: 'POST', path, body, key }, {
    settle: (a) => {
      trace(run, `replay c${book.index} ${t.id} key=${key}`, a);
      if (a.status === 201) {
        const id = String(a.body[t.kind === 'issue' ? 'issueId' : 'useId']);
        if (id !== t.id) {
          run.violate('replay', `replay of ${t.id} (key ${key}) took again: ${id}`);
          book.takes.set(id, { ...t, id, replay: null, restored: 'no', doubted: false });
        } else if (!a.replayed) run.violate('replay', `replay of ${t.id} (key ${key}) answered without Idempotent-Replayed`);
        return;
      }
      if (a.code === 'NOT_ACTIVE' && (archived || ctx.moving.has(book.index))) return;
      run.violate('replay', `replay of ${t.id} (key ${key}) on a ${book.status} coupon answered ${a.status} ${String(a.code)}: the first answer must be replayed`);
    },
  });
}

export const holdsOf = (book: Book) => takesOf(book, 'use', (t) => t.hold !== null);
