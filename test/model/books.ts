/**
 * The model: what a correct client knows after its answers, per coupon. It never predicts the
 * product from the product's code; it keeps the facts the answers established (a 201 took, a
 * 200 cancel gave back, a hold standing until its expiry) and the doubts the lost answers left
 * (a request that may or may not have happened). Every invariant is stated over these facts.
 */
export type Tri = 'no' | 'yes' | 'maybe';
export type StockName = 'issue' | 'use' | 'budget';
export type Status = 'confirmed' | 'paused' | 'archived' | 'unknown';

/** A coupon as the run configured it. `null` = unlimited / none. */
export interface Plan {
  issueTotal: number | null;
  useTotal: number | null;
  budget: number | null;
  perUserIssue: number | null;
  perUserUse: number | null;
  /** Issues per UTC day. */
  issueDayCap: number | null;
  /** Both windows end this long after the run starts (ms); then the schedule archives it. */
  endsAfter: number | null;
}

/** A take the product acknowledged (a 201), by its operation id. */
export interface Take {
  id: string;
  kind: 'issue' | 'use';
  user: string;
  ref: string | null;
  discount: number | null;
  /** The service's clock when it was taken (what its period is named after). */
  at: number;
  /** An earlier attempt's answer was lost: it may have run then (at another `at`). */
  doubted: boolean;
  hold: { owner: string; expiresAt: number } | null;
  committed: Tri;
  /** Commits of this hold sent and not answered yet: a release racing one may find it committed. */
  committing?: number;
  restored: Tri;
  /** The request that took it, to replay with its Idempotency-Key (single issues and uses). */
  replay: { path: string; key: string; body: Record<string, unknown> } | null;
  /**
   * Its live operation record was deleted (a fault): operation records are not rebuilt (see
   * docs/guarantees.md, "Outside the tests"), so a hold that runs out stays taken in the books.
   */
  recordLost?: boolean;
}

/** A take request whose answer was lost at least once: the ledger may hold it without a 201. */
export interface Doubt {
  kind: 'issue' | 'use';
  user: string;
  ref: string | null;
  via: 'issue' | 'batch' | 'use' | 'hold';
  /** How the client's retries ended: a 201, a refusal, or no definite answer (yet). */
  end: 'took' | 'refused' | 'unknown';
  code?: string;
}

export interface Adjustment {
  stock: StockName;
  delta: number;
  state: 'yes' | 'maybe';
}

export interface Book {
  index: number;
  id: string;
  plan: Plan;
  /** A coupon with an issue stock or a per-user issue limit: a use needs an issued coupon. */
  issued: boolean;
  endsAt: number | null;
  takes: Map<string, Take>;
  doubts: Doubt[];
  adjusts: Adjustment[];
  status: Status;
  /** Requests of this coupon still waiting for a definite answer (the client retries them). */
  pending: number;
  /** Status changes not answered yet. */
  pendingStatus: number;
  /** Ids whose live operation record a fault deleted, known as takes or not yet (a late answer may name one). */
  lostRecords: Set<string>;
  /** The service's clock when it was archived, once known (an archive's seal keeps the holds still standing then to replay). */
  archivedAt: number | null;
  /** A key of the coupon was deleted: `until-rebuild` for gauges the ledger rebuilds, `for-good` for records it cannot. */
  damaged: 'no' | 'until-rebuild' | 'for-good';
  /** Hold owners: the same owner holding again (same user, same discount) is re-entrant. */
  owners: { owner: string; user: string; discount: number | null }[];
}

export const newBook = (index: number, id: string, plan: Plan, startedAt: number): Book => ({
  index,
  id,
  plan,
  issued: plan.issueTotal !== null || plan.perUserIssue !== null,
  endsAt: plan.endsAfter === null ? null : startedAt + plan.endsAfter,
  takes: new Map(),
  doubts: [],
  adjusts: [],
  status: 'confirmed',
  pending: 0,
  pendingStatus: 0,
    archivedAt: null,
    lostRecords: new Set(),
  damaged: 'no',
  owners: [],
});

export const DAY_MS = 86_400_000;
export const dayOf = (at: number) => Math.floor(at / DAY_MS);

/** Is the take surely in force at `now` (taken, not given back, a hold not run out)? */
export function surelyLive(t: Take, now: number): boolean {
  if (t.restored !== 'no') return false;
  if (!t.hold) return true;
  return t.committed === 'yes' || now < t.hold.expiresAt;
}

/** Could the take be in force at `now`? */
export function maybeLive(t: Take, now: number): boolean {
  if (t.restored === 'yes') return false;
  if (!t.hold) return true;
  return t.committed !== 'no' || now < t.hold.expiresAt;
}

/** Must the ledger hold a restore of it once holds that ran out were swept? */
export function mustBeRestored(t: Take, now: number): boolean {
  if (t.restored === 'yes') return true;
  return t.hold !== null && t.restored === 'no' && t.committed === 'no' && now >= t.hold.expiresAt;
}

/** The configured total of a stock plus the adjusts: the smallest and largest it can be. */
export function totalRange(book: Book, stock: StockName): { min: number; max: number } | null {
  const base = stock === 'issue' ? book.plan.issueTotal : stock === 'use' ? book.plan.useTotal : book.plan.budget;
  if (base === null) return null;
  let min = base;
  let max = base;
  for (const a of book.adjusts) {
    if (a.stock !== stock) continue;
    if (a.state === 'yes') {
      min += a.delta;
      max += a.delta;
    } else if (a.delta > 0) max += a.delta;
    else min += a.delta;
  }
  return { min, max };
}

/** Every take of a kind that `pick` keeps. */
export const takesOf = (book: Book, kind: 'issue' | 'use', keep: (t: Take) => boolean = () => true) =>
  [...book.takes.values()].filter((t) => t.kind === kind && keep(t));

/**
 * Whether the model knows the coupon exactly: no request in doubt, no key deleted since the
 * last rebuild, the status known. Only then can it say what a take must be answered.
 */
export function exact(book: Book): boolean {
  if (book.status === 'unknown' || book.pending > 0 || book.damaged !== 'no') return false;
  if (book.doubts.some((d) => d.end === 'unknown')) return false;
  if (book.adjusts.some((a) => a.state === 'maybe')) return false;
  for (const t of book.takes.values()) if (t.restored === 'maybe' || t.committed === 'maybe') return false;
  return true;
}

/** Holds standing at `now`: neither committed, given back nor run out. */
export const standingHolds = (book: Book, now: number) =>
  takesOf(book, 'use', (t) => t.hold !== null && t.restored === 'no' && t.committed === 'no' && now < t.hold.expiresAt);
