/**
 * What a take must be answered when the model knows the coupon exactly (see `exact`): the
 * design's rules restated from the facts, in the order the API reports refusals. Used only for
 * requests sent alone; a refusal of a take that fits is a false sell-out, an acceptance of one
 * that does not is an oversell.
 */
import { dayOf, surelyLive, takesOf, totalRange, type Book, type Take } from './books.js';

export type Expected = { ok: true; replayOf?: string } | { ok: false; code: string };

const refuse = (code: string): Expected => ({ ok: false, code });

/** Refusals that do not depend on stock: status and windows. */
function closed(book: Book, now: number): Expected | null {
  if (book.status !== 'confirmed') return refuse('NOT_ACTIVE');
  if (book.endsAt !== null && now >= book.endsAt) return refuse('NOT_ACTIVE');
  return null;
}

const live = (book: Book, kind: 'issue' | 'use', now: number, keep: (t: Take) => boolean = () => true) =>
  takesOf(book, kind, (t) => surelyLive(t, now) && keep(t));

/** How many issued, unused coupons the user holds. */
export const heldBy = (book: Book, user: string, now: number) =>
  live(book, 'issue', now, (t) => t.user === user).length - live(book, 'use', now, (t) => t.user === user).length;

export function expectIssue(book: Book, user: string, now: number): Expected {
  const shut = closed(book, now);
  if (shut) return shut;
  const { plan } = book;
  const total = totalRange(book, 'issue');
  if (total && live(book, 'issue', now).length >= total.min) return refuse('SOLD_OUT');
  if (plan.perUserIssue !== null && live(book, 'issue', now, (t) => t.user === user).length >= plan.perUserIssue) return refuse('USER_LIMIT_REACHED');
  if (plan.issueDayCap !== null && live(book, 'issue', now, (t) => dayOf(t.at) === dayOf(now)).length >= plan.issueDayCap) return refuse('PERIOD_SOLD_OUT');
  return { ok: true };
}

export function expectUse(book: Book, user: string, discount: number | null, now: number): Expected {
  const shut = closed(book, now);
  if (shut) return shut;
  const { plan } = book;
  if (book.issued && heldBy(book, user, now) < 1) return refuse('NOT_ISSUED');
  const total = totalRange(book, 'use');
  if (total && live(book, 'use', now).length >= total.min) return refuse('SOLD_OUT');
  if (plan.perUserUse !== null && live(book, 'use', now, (t) => t.user === user).length >= plan.perUserUse) return refuse('USER_LIMIT_REACHED');
  const budget = totalRange(book, 'budget');
  if (budget) {
    const given = live(book, 'use', now).reduce((sum, t) => sum + (t.discount ?? 0), 0);
    if (budget.min - given < (discount ?? 0)) return refuse('BUDGET_EXHAUSTED');
  }
  return { ok: true };
}

/** The hold an owner still has (its idempotency record stands until the hold is given back). */
export function heldByOwner(book: Book, owner: string, user: string, now: number): Take | null {
  for (const t of book.takes.values()) {
    if (t.hold?.owner === owner && t.user === user && t.restored === 'no' && (t.committed === 'yes' || now < t.hold.expiresAt)) return t;
  }
  return null;
}

export function expectHold(book: Book, user: string, owner: string, discount: number | null, now: number): Expected | null {
  // An owner's hold is replayed before the coupon's state is looked at. The archive gave back
  // every hold not committed; a committed one's record stays to replay it, and so does one that
  // still stood at the archive (a hold whose answer was lost before it replays its 201).
  if (book.status === 'archived') {
    const mine = [...book.takes.values()].find((t) => t.hold?.owner === owner && t.user === user && t.restored === 'no');
    if (!mine?.hold) return refuse('NOT_ACTIVE');
    if (mine.committed === 'yes') return { ok: true, replayOf: mine.id };
    if (mine.committed === 'maybe' || book.archivedAt === null) return null;
    return mine.hold.expiresAt > book.archivedAt ? { ok: true, replayOf: mine.id } : refuse('NOT_ACTIVE');
  }
  const own = heldByOwner(book, owner, user, now);
  if (own) return { ok: true, replayOf: own.id };
  return expectUse(book, user, discount, now);
}
