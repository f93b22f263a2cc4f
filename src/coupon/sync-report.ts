/**
 * What a sync finds: the domain's report, read by the webhook events (`events/events.ts`) and
 * presented by HTTP. Its own file, so the events can read it without importing the schedule
 * that produces it.
 */
import type { CouponRecord, StockRowName } from './coupon.js';

export interface StockSync {
  total: number;
  /** The live remain when the gauge answered, else the last snapshot. */
  remain: number;
  syncedAt: Date | null;
  /** `true` when `remain` was read from the live gauge by this sync. */
  live: boolean;
  /** Net units the ledger records (takes − restores). */
  ledger: number;
  /** `(total − remain) − ledger`: 0 when the invariant holds. */
  drift: number;
}

export interface SyncReport {
  couponId: string;
  status: CouponRecord['status'];
  syncedAt: Date;
  /** Ledger events moved into Postgres by this sync. */
  drained: number;
  issue: StockSync | null;
  use: StockSync | null;
  /** The money budget, when the coupon has one (its ledger: the discounts given). */
  budget?: StockSync;
  /** Stocks whose gauge was missing: reported, never written as 0. */
  missing: StockRowName[];
  /** Stocks whose invariant does not hold. */
  drifted: StockRowName[];
  /**
   * Stocks whose durable total lagged the live one (an adjust whose answer was lost before
   * Postgres took it) and was copied from the gauge by this sync.
   */
  repaired: StockRowName[];
}
