/**
 * Domain values to JSON bodies: dates as ISO-8601, camelCase fields exactly as the contract names
 * them. Each answer is typed by the type inferred from its schema (`schemas/`), so the domain
 * shape and the wire shape are each written once and the compiler checks the step between.
 */
import type { LivePeriod, LiveStocks } from '../coupon/live.js';
import type { CouponRecord, StockSnapshot, Window } from '../coupon/coupon.js';
import type { UserCoupon, UserCouponOperation } from '../coupon/user-coupons.js';
import type { StockSync, SyncReport } from '../coupon/sync-report.js';
import type { CouponJson, LiveJson, SyncReportJson, UserCouponsJson } from './schemas.js';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

const windowOut = (w: Window | null) => (w ? { start: iso(w.start), end: iso(w.end) } : null);

const stockOut = (s: StockSnapshot | null) => (s ? { total: s.total, remain: s.remain, syncedAt: iso(s.syncedAt) } : null);

export function couponOut(c: CouponRecord): CouponJson {
  return {
    id: c.id,
    name: c.name,
    status: c.status,
    issueStock: stockOut(c.stocks.issue),
    useStock: stockOut(c.stocks.use),
    budget: c.budget ? { ...(stockOut(c.stocks.budget) ?? { total: c.budget.total, remain: c.budget.total, syncedAt: null }), currency: c.budget.currency } : null,
    issuePeriodStock: c.issuePeriodStock,
    usePeriodStock: c.usePeriodStock,
    perUserIssueLimit: c.perUserIssueLimit,
    perUserUseLimit: c.perUserUseLimit,
    issueWindow: windowOut(c.issueWindow),
    useWindow: windowOut(c.useWindow),
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}

const stockSyncOut = (s: StockSync | null) => (s ? { ...s, syncedAt: iso(s.syncedAt) } : null);

export function syncOut(r: SyncReport): SyncReportJson {
  const { budget, ...rest } = r;
  return { ...rest, syncedAt: r.syncedAt.toISOString(), issue: stockSyncOut(r.issue), use: stockSyncOut(r.use), ...(budget ? { budget: stockSyncOut(budget) ?? undefined } : {}) };
}

const recordOut = (r: UserCouponOperation) => ({ ...r, at: r.at.toISOString(), cancelledAt: iso(r.cancelledAt) });

export function userCouponOut(h: UserCoupon): UserCouponsJson['coupons'][number] {
  return { ...h, issues: h.issues.map(recordOut), uses: h.uses.map(recordOut) };
}

const periodOut = (p: LivePeriod | undefined) => (p ? { ...p, resetsAt: p.resetsAt.toISOString() } : undefined);

/** Live numbers; a budget and period entries only where the coupon has them. */
export function liveOut(l: LiveStocks): LiveJson {
  const issuePeriod = periodOut(l.issuePeriod);
  const usePeriod = periodOut(l.usePeriod);
  return { issue: l.issue, use: l.use, ...(l.budget ? { budget: l.budget } : {}), ...(l.holds ? { holds: l.holds } : {}), ...(issuePeriod ? { issuePeriod } : {}), ...(usePeriod ? { usePeriod } : {}) };
}
