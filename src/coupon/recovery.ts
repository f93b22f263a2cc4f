/**
 * Recovery: a live coupon whose gauges or policy are gone (Redis flushed, a key evicted, a
 * failover) fails closed until they are rebuilt from `total` and the Postgres ledger, here.
 * Used by confirm and resume (a missing policy), the admin action and the schedule.
 */
import { couponPolicy, isIssued, isLive, type CouponRecord } from './coupon.js';
import { periodExpiry } from './items.js';
import type { GaugeLoad } from '../stock/gauge.js';
import { currentPeriods, now, notFound, type CouponDeps } from './deps.js';
import { fail, ok, type Result } from './errors.js';
import { couponKeys } from './keys.js';

/** Users whose counters are rebuilt per ledger query and gauge load. */
const REBUILD_PAGE = 500;

/** An adjust as asked: its id makes it happen once, its fingerprint says what was asked. */
export interface RebuildReport {
  couponId: string;
  /** `false` when nothing was missing (only the policy was refreshed). */
  rebuilt: boolean;
  /** Gauges loaded (created only where absent). */
  gauges: number;
}

export class CouponRecovery {
  constructor(private readonly deps: CouponDeps) {}

  /**
   * Makes sure a live coupon's gauges and policy are there: refreshes the policy when they are,
   * rebuilds from the ledger when any is missing (a confirm, or Redis lost them).
   */
  async ensureLive(coupon: CouponRecord): Promise<RebuildReport> {
    const keys = couponKeys(coupon.id);
    const [policy, [issue, use, budget]] = await Promise.all([
      this.deps.gauges.getPolicy(keys.prefix),
      this.deps.gauges.read([keys.issue, keys.use, keys.budget]),
    ]);
    if (policy && !policy.lost && (!coupon.stocks.issue || issue) && (!coupon.stocks.use || use) && (!coupon.stocks.budget || budget)) {
      await this.writePolicy(coupon);
      return { couponId: coupon.id, rebuilt: false, gauges: 0 };
    }
    return this.rebuild(coupon);
  }

  /** The admin action: rebuilds a live coupon's missing gauges from the ledger. */
  async rebuildById(id: string): Promise<Result<RebuildReport>> {
    const coupon = await this.deps.coupons.get(id);
    if (!coupon) return notFound(id);
    if (!isLive(coupon.status)) return fail('INVALID_STATE', `coupon ${id} is ${coupon.status}; only live coupons have gauges`);
    return ok(await this.rebuild(coupon));
  }

  /**
   * Recovery: loads every missing gauge of a coupon from `total` and the Postgres ledger — the
   * stocks (`total − net`), and per user the issue and use counters (`limit − net`) and the
   * held count (`issues − uses`) — then writes the policy last, so takes stay refused (fail
   * closed) until everything is back. Loading is only-if-absent: a gauge that survived is never
   * reset. Events still in the gauges' streams are drained first.
   */
  async rebuild(coupon: CouponRecord): Promise<RebuildReport> {
    const keys = couponKeys(coupon.id);
    await this.deps.gauges.drain(keys.prefix, (events) => this.deps.ledger.append(events));
    const net = await this.deps.ledger.net(coupon.id);
    const stocks: GaugeLoad[] = (['issue', 'use'] as const).flatMap((name) => {
      const stock = coupon.stocks[name];
      if (!stock) return [];
      return [{ key: keys[name], total: stock.total, remain: Math.max(0, stock.total - (net[name] ?? 0)), version: stock.totalVersion }];
    });
    // The budget's ledger is the discounts given (less those of cancelled uses).
    if (coupon.stocks.budget) {
      const given = await this.deps.ledger.netValue(coupon.id);
      stocks.push({ key: keys.budget, total: coupon.stocks.budget.total, remain: Math.max(0, coupon.stocks.budget.total - given), version: coupon.stocks.budget.totalVersion });
    }
    // The current period of each period stock: its cap less what the ledger took in it.
    const periods = currentPeriods(this.deps, now(this.deps));
    for (const name of ['issue', 'use'] as const) {
      const cap = name === 'issue' ? coupon.issuePeriodStock : coupon.usePeriodStock;
      if (!cap) continue;
      const w = periods[cap.period];
      const taken = await this.deps.ledger.netTakenIn(coupon.id, name, new Date(w.start), new Date(w.end));
      stocks.push({ key: keys.period(name, cap.period, w.label), total: cap.total, remain: Math.max(0, cap.total - taken), expiresAt: periodExpiry(w) });
    }
    await this.deps.gauges.load(stocks);
    let loaded = stocks.length;
    const issued = isIssued(coupon);
    const counter = (key: string, limit: number, used: number) => ({ key, total: limit, remain: Math.max(0, limit - used) });
    for (let after: string | null = null; ; ) {
      const page = await this.deps.ledger.netBySubject(coupon.id, after, REBUILD_PAGE);
      const users = page.flatMap(({ subject, net: n }) => {
        const issues = n.issue ?? 0;
        const uses = n.use ?? 0;
        const gauges = [];
        if (coupon.perUserIssueLimit !== null) gauges.push(counter(keys.userIssue(subject), coupon.perUserIssueLimit, issues));
        if (coupon.perUserUseLimit !== null) gauges.push(counter(keys.userUse(subject), coupon.perUserUseLimit, uses));
        if (issued) gauges.push({ key: keys.unusedIssues(subject), total: 0, remain: Math.max(0, issues - uses) });
        return gauges;
      });
      if (users.length > 0) await this.deps.gauges.load(users);
      loaded += users.length;
      if (page.length < REBUILD_PAGE) break;
      after = page[page.length - 1]?.subject ?? null;
    }
    // Holds still standing are listed again (the list that finds expired ones may be what was lost).
    await this.deps.gauges.relistHolds(keys.prefix);
    await this.writePolicy(coupon);
    return { couponId: coupon.id, rebuilt: true, gauges: loaded };
  }

  /**
   * Writes `coupon`'s policy, then reads the coupon again: a pause or resume that landed after
   * `coupon` was read, while the policy was gone, found no policy to change, so the one just
   * written from the older copy would stand. The fresh copy is written too (a newer status
   * version wins in the gauge; an older one never overrides it).
   */
  private async writePolicy(coupon: CouponRecord): Promise<void> {
    const { prefix } = couponKeys(coupon.id);
    await this.deps.gauges.setPolicy(prefix, couponPolicy(coupon));
    const fresh = await this.deps.coupons.get(coupon.id);
    if (fresh && fresh.statusVersion > coupon.statusVersion && isLive(fresh.status)) await this.deps.gauges.setPolicy(prefix, couponPolicy(fresh));
  }
}
