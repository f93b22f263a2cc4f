/**
 * Refused takes for the admin page's sale chart. The ledger records every take and restore, but
 * not refusals, and a flash sale refuses far more than it takes: writing each refusal would put
 * Postgres on the hot path of the requests that matter least. So they are counted where the take
 * routes answer (a map increment) and written in batches after responses, at most once per
 * interval per process or isolate, one statement per batch.
 *
 * Best effort by design: a process or isolate that dies loses what it had not written yet (on
 * the Node host at most one interval's; on Workers, what an isolate tallied since its last
 * write), and a write that keeps failing drops new keys past a bound. Takes and remains on the
 * chart come from the ledger and are exact.
 */
import { DrainScheduler } from './drain.js';
import type { ErrorCode } from './errors.js';
import type { RefusalCount, RefusalRepository } from './ports.js';

/** How often a process or isolate writes its refusal counts while refusals come. */
export const REFUSAL_FLUSH_MS = 5_000;

/** The refusals a sale chart shows: takes the coupon's own rules turned down. */
export const CHARTED_REFUSALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'SOLD_OUT',
  'PERIOD_SOLD_OUT',
  'BUDGET_EXHAUSTED',
  'USER_LIMIT_REACHED',
  'NOT_ISSUED',
  'NOT_ACTIVE',
]);

const MINUTE = 60_000;
/** Bounds the memory of a tally whose writes keep failing (keys are coupon × kind × minute). */
const MAX_KEYS = 10_000;

/** Refusal counts of one process or isolate, per coupon, kind and minute, not yet written. */
export class RefusalTally {
  private counts = new Map<string, RefusalCount>();
  private lastFlush: number | null;
  /** Refusals not counted because the tally was full. */
  dropped = 0;

  /**
   * `waitFirst`: the first write also waits an interval, counted from the first `due` call (a
   * Worker isolate: its tally rides on the drains it is elected for, so a fleet of fresh
   * isolates does not write once each at a sale's first refusal).
   */
  constructor(options: { waitFirst?: boolean } = {}) {
    this.lastFlush = options.waitFirst ? null : -Infinity;
  }

  /** Counts one refusal of `kind` (a ledger kind) at `at` (ms since the epoch). */
  add(couponId: string, kind: string, at: number, n = 1): void {
    const minute = Math.floor(at / MINUTE) * MINUTE;
    const key = `${minute} ${kind} ${couponId}`;
    const entry = this.counts.get(key);
    if (entry) entry.count += n;
    else if (this.counts.size < MAX_KEYS) this.counts.set(key, { couponId, kind, minute, count: n });
    else this.dropped += n;
  }

  /** Keys waiting to be written. */
  get size(): number {
    return this.counts.size;
  }

  /** `true` (and the time is recorded) when there are counts and none were written within the interval. */
  due(now: number, intervalMs = REFUSAL_FLUSH_MS): boolean {
    this.lastFlush ??= now;
    if (this.counts.size === 0 || now - this.lastFlush < intervalMs) return false;
    this.lastFlush = now;
    return true;
  }

  /**
   * Writes the counts and starts over. A write that fails puts its counts back for the next one
   * and rethrows. Concurrent flushes write disjoint batches.
   */
  async flush(repo: RefusalRepository): Promise<void> {
    if (this.counts.size === 0) return;
    const batch = [...this.counts.values()];
    this.counts = new Map();
    try {
      await repo.add(batch);
    } catch (error) {
      for (const c of batch) this.add(c.couponId, c.kind, c.minute, c.count);
      throw error;
    }
  }
}

/**
 * The Node host's refusal counts: the first refusal after a quiet interval is written at once
 * (after the current I/O), later ones one interval after the previous write, so the tail of a
 * burst waits one interval, never until the next refusal. Writes never overlap.
 */
export class RefusalRecorder {
  readonly tally = new RefusalTally();
  private readonly scheduler: DrainScheduler;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: {
      repo: RefusalRepository;
      /** Told when a write fails (its counts are kept for the next one). */
      onError?: (error: unknown) => void;
      intervalMs?: number;
      /** The clock and the timer of the write schedule (tests move them). */
      now?: () => number;
      defer?: (run: () => void, ms: number) => void;
    },
  ) {
    const { intervalMs = REFUSAL_FLUSH_MS, now, defer } = options;
    this.scheduler = new DrainScheduler(() => this.flush(), { intervalMs, ...(now ? { now } : {}), ...(defer ? { defer } : {}) });
  }

  /** A take of `couponId` was refused (the hot path: a map increment, and a timer once per interval). */
  refused(couponId: string, kind: string, at: number): void {
    this.tally.add(couponId, kind, at);
    this.scheduler.taken('refusals');
  }

  /** Writes what is counted now, after any write under way (at shutdown, and in tests). */
  flush(): Promise<void> {
    this.writing = this.writing
      .then(() => this.tally.flush(this.options.repo))
      .catch((error: unknown) => this.options.onError?.(error));
    return this.writing;
  }
}
