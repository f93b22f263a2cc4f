/**
 * What a user holds, from the durable ledger: per coupon, the issues and uses with their
 * cancellations.
 */
import type { CouponDeps } from './deps.js';

export interface UserCouponOperation {
  id: string;
  orderId: string | null;
  at: Date;
  status: 'active' | 'cancelled';
  cancelledAt: Date | null;
}

export interface UserCoupon {
  couponId: string;
  /** Issues not cancelled. */
  issued: number;
  /** Uses not cancelled. */
  used: number;
  /** Issues and uses that were cancelled. */
  cancelled: number;
  issues: UserCouponOperation[];
  uses: UserCouponOperation[];
}

/** At most this many operations of one user are reported. */
export const USER_COUPONS_LIMIT = 1000;

export async function userCouponsOf(deps: CouponDeps, userId: string): Promise<UserCoupon[]> {
  const entries = await deps.ledger.bySubject(userId, USER_COUPONS_LIMIT);
  const byCoupon = new Map<string, UserCoupon>();
  for (const entry of entries) {
    let coupon = byCoupon.get(entry.couponId);
    if (!coupon) {
      coupon = { couponId: entry.couponId, issued: 0, used: 0, cancelled: 0, issues: [], uses: [] };
      byCoupon.set(entry.couponId, coupon);
    }
    const cancelled = entry.cancelledAt !== null;
    const record: UserCouponOperation = {
      id: entry.opId,
      orderId: entry.ref,
      at: entry.at,
      status: cancelled ? 'cancelled' : 'active',
      cancelledAt: entry.cancelledAt,
    };
    if (cancelled) coupon.cancelled += 1;
    if (entry.kind === 'issue') {
      coupon.issues.push(record);
      if (!cancelled) coupon.issued += 1;
    } else {
      coupon.uses.push(record);
      if (!cancelled) coupon.used += 1;
    }
  }
  return [...byCoupon.values()];
}
