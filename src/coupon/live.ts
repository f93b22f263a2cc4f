/**
 * Live numbers of a coupon, straight from the gauges: what the client route
 * `GET /v1/coupons/{id}/stocks/live` and the admin page show.
 */
import type { CouponRecord } from './coupon.js';
import { periodLimit } from './coupon.js';
import { PERIODS, type Period } from '../stock/periods.js';
import { currentPeriods, now, notFound, type CouponDeps } from './deps.js';
import { fail, ok, type Result } from './errors.js';
import { couponKeys } from './keys.js';

export interface LiveStock {
  total: number;
  remain: number;
}

/** The current period of a stock that resets: what is left of it, and when it starts again. */
export interface LivePeriod extends LiveStock {
  period: Period;
  label: string;
  resetsAt: Date;
}

/** Live numbers of a coupon; a period entry only for a stock with a period cap, a budget only where there is one. */
export interface LiveStocks {
  issue: LiveStock | null;
  use: LiveStock | null;
  budget?: LiveStock;
  /** Holds standing now (their uses are taken until committed, released or expired). */
  holds?: number;
  issuePeriod?: LivePeriod;
  usePeriod?: LivePeriod;
}

export class CouponLive {
  constructor(private readonly deps: CouponDeps) {}

  /** Live remains straight from the gauges; Postgres is asked only when the policy is missing. */
  async read(id: string): Promise<Result<LiveStocks>> {
    const keys = couponKeys(id);
    const at = now(this.deps);
    const periods = currentPeriods(this.deps, at);
    // Every period gauge that could exist now, read in the same call (a cap's gauge appears with its first take).
    const candidates = (['issue', 'use'] as const).flatMap((stock) => PERIODS.map((period) => ({ stock, period, key: keys.period(stock, period, periods[period].label) })));
    const [policy, gauges, holds] = await Promise.all([
      this.deps.gauges.getPolicy(keys.prefix),
      this.deps.gauges.read([keys.issue, keys.use, keys.budget, ...candidates.map((c) => c.key)]),
      this.deps.gauges.activeHolds(keys.prefix, at),
    ]);
    // A sealed scope is archived (or being archived): its numbers are the ones in Postgres.
    if (policy && !policy.sealed) {
      const [issue, use, budget] = gauges.slice(0, 3).map((g) => (g ? { total: g.total, remain: g.remain } : null));
      if (('issue' in policy.limits && !issue) || ('use' in policy.limits && !use) || ('budget' in policy.limits && !budget)) {
        return fail('STOCK_UNAVAILABLE', `the live stock of coupon ${id} is unavailable`);
      }
      const out: LiveStocks = { issue: issue ?? null, use: use ?? null, ...(budget ? { budget } : {}), ...(holds > 0 ? { holds } : {}) };
      candidates.forEach((c, i) => {
        const limit = policy.limits[periodLimit(c.stock, c.period)];
        if (limit === undefined) return;
        const w = periods[c.period];
        // No gauge yet: nothing was taken in this period, all of it is left.
        const found = gauges[3 + i];
        const gauge = found ? { total: found.total, remain: found.remain } : { total: limit, remain: limit };
        out[c.stock === 'issue' ? 'issuePeriod' : 'usePeriod'] = { ...gauge, period: c.period, label: w.label, resetsAt: new Date(w.end) };
      });
      return ok(out);
    }
    const coupon = await this.deps.coupons.get(id);
    if (!coupon) return notFound(id);
    if (coupon.status === 'draft') return fail('NOT_ACTIVE', `coupon ${id} is a draft; confirm it first`);
    if (coupon.status === 'archived') {
      const pick = (s: CouponRecord['stocks']['issue']) => (s ? { total: s.total, remain: s.remain } : null);
      const budget = pick(coupon.stocks.budget);
      return ok({ issue: pick(coupon.stocks.issue), use: pick(coupon.stocks.use), ...(budget ? { budget } : {}) });
    }
    return fail('STOCK_UNAVAILABLE', `the live stock of coupon ${id} is unavailable`);
  }
}
