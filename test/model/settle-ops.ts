/**
 * What settles a take: commit and release of a hold, cancel of an issue or a use. Each is
 * retried by the client like a take (they are idempotent by the operation's id).
 */
import { exact, takesOf, type Book, type Take } from './books.js';
import { allowedAnswer, comparePrediction } from './checks.js';
import { perform } from './client.js';
import { bookOf, trace, type Ctx } from './context.js';
import { heldBy, type Expected } from './predict.js';
import { holdsOf } from './take-ops.js';

const pick = (takes: Take[], k: number): Take | undefined => takes[k % Math.max(1, takes.length)];

/** What the exact model says a settle of `t` must be answered: `ok` or a refusal code. */
function expectSettle(book: Book, action: 'commit' | 'release' | 'cancelIssue' | 'cancelUse', t: Take, now: number): Expected {
  if (book.status === 'archived') return { ok: false, code: 'NOT_ACTIVE' };
  switch (action) {
    case 'commit':
      // Committed once: a commit replays 200 ever after (even once the use was cancelled).
      if (t.committed === 'yes') return { ok: true };
      // Given back (released or run out): HOLD_EXPIRED.
      if (t.restored === 'yes') return { ok: false, code: 'HOLD_EXPIRED' };
      return now >= (t.hold?.expiresAt ?? 0) ? { ok: false, code: 'HOLD_EXPIRED' } : { ok: true };
    case 'release':
      return t.committed === 'yes' ? { ok: false, code: 'ALREADY_USED' } : { ok: true };
    case 'cancelIssue':
      // On an issued coupon an issue gives the user a coupon to use: it cannot be cancelled once used.
      return t.restored === 'yes' || !book.issued || heldBy(book, t.user, now) >= 1 ? { ok: true } : { ok: false, code: 'ALREADY_USED' };
    case 'cancelUse':
      return { ok: true };
  }
}

export async function settleTake(ctx: Ctx, op: { t: 'commit' | 'release' | 'cancelIssue' | 'cancelUse'; c: number; k: number }): Promise<void> {
  const { run } = ctx;
  const book = bookOf(run, op.c);
  const action = op.t;
  const t = pick(action === 'commit' || action === 'release' ? holdsOf(book) : takesOf(book, action === 'cancelIssue' ? 'issue' : 'use'), op.k);
  if (!t) return trace(run, `${action} c${book.index}: nothing to ${action}`);
  const now = run.now;
  const expected = !ctx.together && exact(book) ? expectSettle(book, action, t, now) : null;
  const path =
    action === 'commit' || action === 'release'
      ? `/v1/coupons/${book.id}/holds/${t.id}/${action}`
      : `/v1/coupons/${book.id}/${action === 'cancelIssue' ? 'issues' : 'uses'}/${t.id}/cancel`;
  const what = `${action} of ${t.id} (${t.user}) on coupon ${book.index}`;
  const wasCommitted = t.committed;
  const wasRestored = t.restored;
  if (action === 'commit') t.committing = (t.committing ?? 0) + 1;
  await perform(run, book.index, { method: 'POST', path }, {
    doubt: () => {
      // The lost answer may have done it: until a definite answer, it is in doubt.
      if (action === 'commit') {
        if (t.committed === 'no' && t.restored === 'no' && now < (t.hold?.expiresAt ?? 0)) t.committed = 'maybe';
      } else if (t.restored === 'no') t.restored = 'maybe';
    },
    settle: (a, doubted, late) => {
      trace(run, `${action} c${book.index} ${t.id}${expected ? ` (expect ${expected.ok ? 200 : expected.code})` : ''}`, a);
      comparePrediction(run, what, late ? null : expected, a, 200);
      allowedAnswer(run, action, a, 200, what);
      if (a.code === 'NOT_ACTIVE') return; // archived: what a lost attempt did stays in doubt
      if (action === 'commit') {
        if (a.status === 200) {
          // In a concurrent moment a cancel of the use answered first may have run after this commit.
          if (t.restored === 'yes' && t.committed === 'no' && !ctx.together) run.violate('false-acceptance', `${what}: committed a hold that was given back`);
          if (!doubted && wasCommitted !== 'yes' && now >= (t.hold?.expiresAt ?? 0)) run.violate('false-acceptance', `${what}: committed a hold whose time was up`);
          t.committed = 'yes';
        } else if (a.code === 'HOLD_EXPIRED') {
          // A hold committed once is answered 200 by every commit after, cancelled or not.
          if (t.committed === 'yes') run.violate('false-refusal', `${what}: HOLD_EXPIRED for a hold committed before`);
          // Never committed: a commit that had run would replay 200.
          if (t.committed === 'maybe') t.committed = 'no';
          t.restored = 'yes';
        }
        return;
      }
      if (a.status === 200) {
        if (action === 'release' && t.committed === 'yes') run.violate('false-acceptance', `${what}: released a committed hold`);
        if (action === 'release') t.committed = 'no';
        t.restored = 'yes';
        return;
      }
      if (a.code === 'ALREADY_USED') {
        if (action === 'release') {
          // A commit of it in flight (fired together) may have run first and be answered after.
          if (t.committed === 'no' && !doubted && !t.committing) run.violate('false-refusal', `${what}: ALREADY_USED for a hold never committed`);
          t.committed = 'yes';
        }
        // Refused: nothing was given back (a lost attempt would have made this a 200).
        if (t.restored === 'maybe') t.restored = wasRestored === 'maybe' ? 'maybe' : 'no';
      }
    },
  }).finally(() => {
    if (action === 'commit') t.committing = (t.committing ?? 1) - 1;
  });
}
