/**
 * The events a coupon platform tells its users about, decided from what the schedule and the
 * admin actions already compute (a sync report, an archive): never on the hot path. Each event
 * has a dedupe key, so the same fact seen by many syncs is told once.
 */
import type { CouponRecord, StockRowName } from '../coupon/coupon.js';
import type { SyncReport } from '../coupon/sync-report.js';

export const EVENT_TYPES = ['stock.low', 'stock.sold_out', 'coupon.archived', 'ledger.drift'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface NewEvent {
  type: EventType;
  couponId: string;
  /** The same key is recorded once: a stock sells out once per total, a drift is told per value. */
  dedupeKey: string;
  data: Record<string, unknown>;
  /**
   * Told only once the same key was seen before: a sync under load reads the gauges a moment
   * after it drained the ledger, so takes landing in between look like a drift that is gone by
   * the next sync. A drift with the same value and the same ledger twice is a standing one.
   */
  confirm?: true;
}

/**
 * Events a sync shows: a stock at or under `lowPercent` of its total (once per total), sold out
 * (once per total), or whose books disagree (once per drift and ledger value, when two syncs
 * saw it).
 */
export function eventsOfSync(report: SyncReport, lowPercent: number): NewEvent[] {
  const out: NewEvent[] = [];
  const stocks: [StockRowName, SyncReport['issue'] | undefined][] = [
    ['issue', report.issue],
    ['use', report.use],
    ['budget', report.budget],
  ];
  for (const [stock, s] of stocks) {
    if (!s || !s.live) continue;
    const base = { couponId: report.couponId, stock, total: s.total, remain: s.remain };
    if (s.remain === 0) {
      out.push({ type: 'stock.sold_out', couponId: report.couponId, dedupeKey: `${report.couponId}:${stock}:sold_out:${s.total}`, data: base });
    } else if (s.remain * 100 <= s.total * lowPercent) {
      out.push({ type: 'stock.low', couponId: report.couponId, dedupeKey: `${report.couponId}:${stock}:low:${s.total}`, data: { ...base, thresholdPercent: lowPercent } });
    }
    if (s.drift !== 0) {
      out.push({
        type: 'ledger.drift',
        couponId: report.couponId,
        dedupeKey: `${report.couponId}:${stock}:drift:${s.drift}:${s.ledger}`,
        data: { ...base, ledger: s.ledger, drift: s.drift },
        confirm: true,
      });
    }
  }
  return out;
}

/** The event of an archival. */
export function archivedEvent(coupon: CouponRecord): NewEvent {
  return { type: 'coupon.archived', couponId: coupon.id, dedupeKey: `${coupon.id}:archived`, data: { couponId: coupon.id, name: coupon.name } };
}

/** Where events go: recorded durably with one delivery per subscribed endpoint, then sent by the schedule. */
export interface EventSink {
  record(events: NewEvent[], now: Date): Promise<void>;
}
