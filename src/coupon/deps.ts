import type { DrainDuty, GaugePort } from '../stock/gauge.js';
import type { SoldOutMemo } from '../stock/sold-out-memo.js';
import type { WebhookRepository } from '../events/ports.js';
import { PeriodClock } from '../stock/periods.js';
import { fail, type Failure } from './errors.js';
import type { CouponRecord } from './coupon.js';
import type { CurrentPeriods } from './items.js';
import type { CouponRepository, LedgerRepository } from './ports.js';

/** What the coupon services need; every runtime wires its own adapters into this. */
export interface CouponDeps {
  coupons: CouponRepository;
  ledger: LedgerRepository;
  gauges: GaugePort;
  /** Milliseconds since the epoch; injectable so tests can move time. */
  clock?: () => number;
  /**
   * Told after every successful take or restore (the runtime schedules a ledger drain), with the
   * duty to drain the coupon when the gauge elected this request (`drainElected`).
   */
  onLedgerEvent?: (couponId: string, duty?: DrainDuty) => void;
  /**
   * Told of every take the coupon's rules refused (`CHARTED_REFUSALS`), with its ledger kind and
   * time: the runtime counts it for the sale chart (`src/coupon/refusal-tally.ts`). Must stay cheap.
   */
  onRefused?: (couponId: string, kind: string, at: number) => void;
  /**
   * What this process learned about sold-out stocks, answering the takes that follow from memory
   * for a short window (`sold-out.ts`; absent: every take asks the gauge). Set by `useSoldOutMemo`.
   */
  soldOut?: SoldOutMemo;
  /** Told of every take answered from the sold-out memo, with the take's kind (metrics). Must stay cheap. */
  onRemembered?: (couponId: string, kind: string) => void;
  /** The days and weeks of period stocks, in the service's time zone (default: UTC). */
  periods?: PeriodClock;
  /** Webhooks: events recorded by syncs and archivals, delivered by the schedule (none when absent). */
  webhooks?: WebhookRepository;
  /** `stock.low` is told when a stock is at or under this percentage of its total (default 10). */
  lowStockPercent?: number;
}

export const now = (deps: CouponDeps): number => (deps.clock ? deps.clock() : Date.now());

const UTC = new PeriodClock('UTC');

/** The current day and week at `at`, in the service's time zone. */
export function currentPeriods(deps: Pick<CouponDeps, 'periods'>, at: number): CurrentPeriods {
  const clock = deps.periods ?? UTC;
  return { day: clock.at('day', at), week: clock.at('week', at) };
}

export const notFound = (id: string): Failure => fail('NOT_FOUND', `coupon ${id} does not exist`);

/**
 * Why a take found no live gauges: decided from Postgres, which is only asked on this refusal
 * path so the hot path stays one round trip to the gauges.
 */
export function unavailableReason(id: string, coupon: CouponRecord | null): Failure {
  if (!coupon) return notFound(id);
  if (coupon.status === 'draft') return fail('NOT_ACTIVE', `coupon ${id} is a draft; confirm it first`);
  if (coupon.status === 'archived') return fail('NOT_ACTIVE', `coupon ${id} is archived`);
  return fail('STOCK_UNAVAILABLE', `the live stock of coupon ${id} is unavailable; try again later`);
}
