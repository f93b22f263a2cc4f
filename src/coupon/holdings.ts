/**
 * What a user holds, from the durable ledger: per coupon, the issues and uses with their
 * cancellations.
 */
import type { CouponDeps } from './deps.js';

export interface HoldingRecord {
  id: string;
  orderId: string | null;
  at: Date;
  status: 'active' | 'cancelled';
  cancelledAt: Date | null;
}

export interface CouponHolding {
  couponId: string;
  /** Issues not cancelled. */
  issued: number;
  /** Uses not cancelled. */
  used: number;
  /** Issues and uses that were cancelled. */
  cancelled: number;
  issues: HoldingRecord[];
  uses: HoldingRecord[];
}

/** At most this many operations of one user are reported. */
export const HOLDINGS_LIMIT = 1000;

export async function holdingsOf(deps: CouponDeps, userId: string): Promise<CouponHolding[]> {
  const entries = await deps.ledger.bySubject(userId, HOLDINGS_LIMIT);
  const byCoupon = new Map<string, CouponHolding>();
  for (const entry of entries) {
    let holding = byCoupon.get(entry.couponId);
    if (!holding) {
      holding = { couponId: entry.couponId, issued: 0, used: 0, cancelled: 0, issues: [], uses: [] };
      byCoupon.set(entry.couponId, holding);
    }
    const cancelled = entry.cancelledAt !== null;
    const record: HoldingRecord = {
      id: entry.opId,
      orderId: entry.ref,
      at: entry.at,
      status: cancelled ? 'cancelled' : 'active',
      cancelledAt: entry.cancelledAt,
    };
    if (cancelled) holding.cancelled += 1;
    if (entry.kind === 'issue') {
      holding.issues.push(record);
      if (!cancelled) holding.issued += 1;
    } else {
      holding.uses.push(record);
      if (!cancelled) holding.used += 1;
    }
  }
  return [...byCoupon.values()];
}
