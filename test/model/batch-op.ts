/**
 * Bulk issue (`issues:batch`): one key for the whole list; the client sends it again, with the
 * same key, while any item is unavailable (the items done replay, the rest run).
 */
import type { Doubt, Take } from './books.js';
import { allowedAnswer, surelyClosed } from './checks.js';
import { definite, sendRetrying, type Answer } from './client.js';
import { bookOf, trace, userAt, type Ctx } from './context.js';
import { addDoubt, recordTake } from './take-ops.js';

interface BatchItem {
  userId: string;
  status: number;
  issueId?: string;
  code?: string;
  replayed?: boolean;
}

/** A bulk issue with one key: retried as a whole while any item is unavailable (done items replay). */
export async function batch(ctx: Ctx, op: { c: number; us: number[] }): Promise<void> {
  const { run } = ctx;
  const book = bookOf(run, op.c);
  const users = op.us.map((u) => userAt(run, u));
  const at = run.now;
  const closed = surelyClosed(book, at, ctx.moving.has(book.index));
  const key = run.fresh('bat');
  const req = { method: 'POST' as const, path: `/v1/coupons/${book.id}/issues:batch`, body: { userIds: users }, key };
  const doubts = new Map<number, Doubt>();
  const doubtItem = (i: number) => doubts.set(i, doubts.get(i) ?? addDoubt(book, { kind: 'issue', user: users[i] as string, ref: null, via: 'batch', end: 'unknown' }));
  // An item answered 201 is done (a retry replays it): it is recorded at once, whatever the rest.
  const taken = new Map<number, string>();
  let sent = 0;
  const recordIssued = (answer: Answer) => {
    ((answer.body.results ?? []) as BatchItem[]).forEach((item, i) => {
      if (item.status !== 201 || !item.issueId) return;
      const doubt = doubts.get(i);
      if (doubt) doubt.end = 'took';
      if (taken.get(i) === item.issueId) return;
      if (taken.has(i)) run.violate('replay', `batch ${key} item ${i}: answered ${item.issueId}, then ${taken.get(i) ?? ''} (taken twice)`);
      taken.set(i, item.issueId);
      const user = users[i] as string;
      // Taken by a later send: another moment, its clock and status no longer the first's.
      const doubted = doubt !== undefined || sent > 1;
      const take: Take = { id: item.issueId, kind: 'issue', user, ref: null, discount: null, at, doubted, hold: null, committed: 'no', restored: 'no', replay: null };
      recordTake(ctx, book, take, { replayed: item.replayed === true }, doubted, closed, `batch item ${i} (${user}) on coupon ${book.index}`);
    });
  };
  /** Sends the batch; its answer when definite for every item, else `null` (the items unanswered are in doubt). */
  const attempt = async (tries: number): Promise<Answer | null> => {
    const answers = await sendRetrying(run, req, tries);
    sent += answers.length;
    // A whole request without an answer may have run any of its items.
    if (answers.some((a) => !definite(a))) users.forEach((_, i) => doubtItem(i));
    const answer = answers[answers.length - 1] as Answer;
    if (!definite(answer)) return null;
    const unavailable = ((answer.body.results ?? []) as BatchItem[]).flatMap((item, i) => (item.status >= 500 ? [i] : []));
    unavailable.forEach(doubtItem);
    if (answer.status === 200) recordIssued(answer);
    return unavailable.length === 0 ? answer : null;
  };
  /** The final answer: refusals are final only now (a retried item is evaluated again). */
  const settle = (last: Answer) => {
    const summary = last.status === 200 ? ((last.body.results ?? []) as BatchItem[]).map((r) => (r.status === 201 ? `201${r.replayed ? 'r' : ''}` : String(r.code))).join(',') : '';
    trace(run, `batch c${book.index} [${users.join(',')}] key=${key} ${summary}`, last);
    if (last.status !== 200) {
      for (const d of doubts.values()) if (d.end === 'unknown') Object.assign(d, { end: 'refused', code: last.code });
      return allowedAnswer(run, 'batch', last, 200, `batch issue on coupon ${book.index}`);
    }
    ((last.body.results ?? []) as BatchItem[]).forEach((item, i) => {
      if (item.status === 201) return;
      const doubt = doubts.get(i);
      if (doubt) Object.assign(doubt, { end: 'refused', code: item.code });
      const name = `${item.status} ${item.code}`;
      if (!['409 SOLD_OUT', '409 USER_LIMIT_REACHED', '409 PERIOD_SOLD_OUT', '409 NOT_ACTIVE'].includes(name)) {
        run.violate('unexpected-answer', `batch item ${i} (${users[i] ?? ''}) on coupon ${book.index}: ${name}`);
      }
    });
  };
  for (let round = 0; round < 3; round++) {
    const answer = await attempt(1 + (round === 0 ? 2 : 0));
    if (answer) return settle(answer);
  }
  trace(run, `batch c${book.index} [${users.join(',')}] key=${key}: no definite answer for every item yet (pending)`);
  book.pending += 1;
  run.pending.push({
    coupon: book.index,
    what: `batch ${key}`,
    retry: async () => {
      const answer = await attempt(1);
      if (!answer) return false;
      book.pending -= 1;
      settle(answer);
      return true;
    },
  });
}
