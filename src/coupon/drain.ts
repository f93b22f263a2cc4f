/**
 * Moving ledger events from the gauges into Postgres soon after a take, without putting
 * Postgres on the hot path: the response is sent first, then the coupon's stream is drained,
 * at most once per interval per coupon, so under load one drain carries many events (each
 * drain costs two Redis commands however many events it moves).
 *
 * "Once per interval" must hold for the coupon, not for each process or isolate serving it:
 * the Redis gauge elects one drainer per coupon (a lease handed to a take, `DrainDuty`), which
 * `drainElected` runs. `DrainThrottle` and `DrainScheduler` pace a single process's own drains
 * (a gauge that elects nobody, and tests).
 */
import type { DrainDuty } from '../stock/gauge.js';
import type { CouponDeps } from './deps.js';
import { couponKeys } from './keys.js';

/**
 * How often a hot coupon is drained after takes: the worst case a total Redis loss can cost is
 * the takes of about one interval (plus a drain's own duration). At 10,000 takes/s a 250 ms
 * interval costs 8 Redis commands a second.
 */
export const DRAIN_INTERVAL_MS = 250;

/**
 * The elected drainer's lease: one round (the interval, a read, the Postgres write bounded by
 * its own deadline, a delete) fits in it with room to spare, so a live drainer is never
 * replaced; a drainer that died is replaced by the first take after it ran out.
 */
export const DRAIN_LEASE_MS = 10_000;

/**
 * The lease for a store deadline of `storeTimeoutMs`: at least `DRAIN_LEASE_MS`, and longer
 * than a round whose three store calls each take their whole deadline.
 */
export const drainLeaseFor = (storeTimeoutMs: number): number => Math.max(DRAIN_LEASE_MS, DRAIN_INTERVAL_MS + 3 * storeTimeoutMs);

/**
 * Rounds an elected drainer runs at most (one interval apart, while takes keep coming) before it
 * gives the lease up with its last read and the next take is elected: about 5 s, well inside
 * the 30 s a Worker's `waitUntil` may run after the response.
 */
export const DRAIN_ROUNDS = 20;

/** What an elected drainer did: events moved, rounds run, and the error that stopped it, if one did. */
export interface ElectedDrain {
  moved: number;
  rounds: number;
  error?: unknown;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The elected drainer of `couponId`: waits one interval (so a drain carries the interval's
 * events), drains, and again while events keep coming, until the stream is found empty (the
 * lease is then given up and the next take is elected), another drainer holds the lease, or
 * `rounds` are done. Never throws: a failed write (Postgres down) stops it, the events stay in
 * the stream and the lease runs out, so the next take after it elects a new drainer.
 */
export async function drainElected(
  deps: CouponDeps,
  couponId: string,
  duty: DrainDuty,
  options: {
    intervalMs?: number;
    rounds?: number;
    wait?: (ms: number) => Promise<void>;
    /** `true` when the process is stopping: the next round is run at once, as the last. */
    stopping?: () => boolean;
  } = {},
): Promise<ElectedDrain> {
  const { intervalMs = DRAIN_INTERVAL_MS, rounds = DRAIN_ROUNDS, wait = sleep, stopping = () => false } = options;
  const out: ElectedDrain = { moved: 0, rounds: 0 };
  const drain = deps.gauges.drainElected?.bind(deps.gauges);
  if (!drain) return out;
  const write = (events: Parameters<typeof deps.ledger.append>[0]) => deps.ledger.append(events);
  try {
    for (let round = 1; round <= rounds; round++) {
      if (!stopping()) await wait(intervalMs);
      const last = round === rounds || stopping();
      const result = await drain(couponKeys(couponId).prefix, write, { holder: duty.holder, last });
      out.rounds = round;
      out.moved += result.moved;
      if (!result.more) break;
    }
  } catch (error) {
    out.error = error;
  }
  return out;
}

/** Remembers when each coupon was last drained by this process or isolate. */
export class DrainThrottle {
  private readonly last = new Map<string, number>();

  constructor(private readonly intervalMs = DRAIN_INTERVAL_MS) {}

  /** `true` (and the time is recorded) when the coupon was not drained within the interval. */
  due(couponId: string, now: number): boolean {
    const previous = this.last.get(couponId);
    if (previous !== undefined && now - previous < this.intervalMs) return false;
    if (this.last.size > 10_000) this.last.clear(); // bounded: a long-lived isolate sees many coupons
    this.last.set(couponId, now);
    return true;
  }
}

/**
 * Drains each coupon soon after its takes, at most once per interval (a long-lived process: the
 * Node host). A take inside the interval does not drain at once but makes sure one drain runs
 * when the interval is over, so the tail of a burst (the takes after the last drain) waits one
 * interval in Redis, not until the schedule. `defer` runs a callback after a delay; one drain
 * per coupon is ever pending.
 */
export class DrainScheduler {
  private readonly last = new Map<string, number>();
  private readonly pending = new Set<string>();

  constructor(
    private readonly drain: (couponId: string) => Promise<unknown>,
    private readonly options: { intervalMs?: number; now?: () => number; defer?: (run: () => void, ms: number) => void } = {},
  ) {}

  /** A take or restore of `couponId` was answered. */
  taken(couponId: string): void {
    if (this.pending.has(couponId)) return;
    const { intervalMs = DRAIN_INTERVAL_MS, now = Date.now, defer = deferred } = this.options;
    const previous = this.last.get(couponId);
    const wait = previous === undefined ? 0 : Math.max(0, previous + intervalMs - now());
    this.pending.add(couponId);
    defer(() => {
      this.pending.delete(couponId);
      if (this.last.size > 10_000) this.last.clear(); // bounded: a long-lived process sees many coupons
      this.last.set(couponId, now());
      void this.drain(couponId);
    }, wait);
  }

  /** Coupons with a drain waiting to run. */
  get waiting(): number {
    return this.pending.size;
  }
}

/** After the current I/O (no delay) or a timer that does not keep the process alive. */
function deferred(run: () => void, ms: number): void {
  if (ms === 0) {
    setImmediate(run);
    return;
  }
  const timer = setTimeout(run, ms);
  (timer as { unref?: () => void }).unref?.();
}

/**
 * Drains the given coupons' ledgers into Postgres. A failure (Postgres down) leaves the events
 * in the gauges' streams for the next drain or the schedule: nothing is lost, nothing fails.
 */
export async function drainCoupons(deps: CouponDeps, couponIds: Iterable<string>): Promise<{ moved: number; failed: string[] }> {
  let moved = 0;
  const failed: string[] = [];
  for (const id of couponIds) {
    try {
      moved += await deps.gauges.drain(couponKeys(id).prefix, (events) => deps.ledger.append(events));
    } catch {
      failed.push(id);
    }
  }
  return { moved, failed };
}
