/**
 * The coupon's key generator: names every gauge of a coupon. All keys of one coupon share
 * the hash tag `{c:<id>}` so multi-key scripts stay legal on Redis Cluster. The kind of a user
 * counter comes before the user id, so no user id (whatever it contains) can collide with
 * another key.
 */
import type { Period } from '../stock/periods.js';

export interface CouponKeys {
  /** Prefix of the coupon's scope; the gauge adapter keeps its own records under it. */
  prefix: string;
  issue: string;
  use: string;
  /** The money budget (minor units left). */
  budget: string;
  /** How many times the user was issued the coupon (starts at the per-user issue limit). */
  userIssue(userId: string): string;
  /** How many times the user used it (starts at the per-user use limit). */
  userUse(userId: string): string;
  /** How many issued, unused coupons the user has (its stored key part `uh` predates the name). */
  unusedIssues(userId: string): string;
  /** The gauge of one period of a stock that resets (`label` names the period). */
  period(stock: 'issue' | 'use', period: Period, label: string): string;
}

export function couponKeys(couponId: string): CouponKeys {
  const prefix = `cs:{c:${couponId}}:`;
  return {
    prefix,
    issue: `${prefix}issue`,
    use: `${prefix}use`,
    budget: `${prefix}budget`,
    userIssue: (userId) => `${prefix}ui:${userId}`,
    userUse: (userId) => `${prefix}uu:${userId}`,
    unusedIssues: (userId) => `${prefix}uh:${userId}`,
    period: (stock, period, label) => `${prefix}p:${stock}:${period === 'day' ? 'd' : 'w'}:${label}`,
  };
}
