/**
 * Moving ledger events from the gauges into Postgres soon after a take, without putting
 * Postgres on the hot path: the response is sent first, then the coupon's stream is drained,
 * at most once per interval per coupon, so under load one drain carries many events (each
 * drain costs two Redis commands however many events it moves).
 */
import type { CouponDeps } from './deps.js';
import { couponKeys } from './keys.js';

/**
 * How often a hot coupon is drained after takes: the worst case a total Redis loss can cost is
 * the takes of about one interval (plus a drain's own duration). At 10,000 takes/s a 250 ms
 * interval costs 8 Redis commands a second.
 */
export const DRAIN_INTERVAL_MS = 250;

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
