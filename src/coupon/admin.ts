/**
 * Coupon administration: drafts, the lifecycle, live limits. Durable state first where a
 * failure halfway must leave the coupon closed rather than open.
 */
import { fail, ok, type Result } from './errors.js';
import {
  canTransition,
  couponPolicy,
  isIssued,
  isLive,
  periodExpiry,
  periodLimit,
  specProblems,
  type CouponRecord,
  type CouponSpec,
  type CouponStatus,
  type StockRowName,
} from './coupon.js';
import type { GaugeLoad } from '../stock/gauge.js';
import { PERIODS, type Period } from '../stock/periods.js';
import { currentPeriods, now, notFound, type CouponDeps } from './deps.js';
import { newId } from './ids.js';
import { couponKeys } from './keys.js';
import type { ListQuery, Page, StockRow } from './ports.js';

/** Users whose counters are rebuilt per ledger query and gauge load. */
const REBUILD_PAGE = 500;

export interface RebuildReport {
  couponId: string;
  /** `false` when nothing was missing (only the policy was refreshed). */
  rebuilt: boolean;
  /** Gauges loaded (created only where absent). */
  gauges: number;
}

export interface LiveStock {
  total: number;
  remain: number;
}

/** An adjust as asked: its id makes it happen once, its fingerprint says what was asked. */
export interface AdjustInput {
  /** The client's `Idempotency-Key`, or `null` (then the id is new, and only the store client's own retries are covered). */
  idempotencyKey: string | null;
  /** Who the key belongs to: keys are scoped per caller. */
  caller: string;
}

export interface Adjusted extends LiveStock {
  /** `true` when this answer is the replay of an earlier adjust with the same key. */
  replayed: boolean;
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

export class CouponAdmin {
  constructor(private readonly deps: CouponDeps) {}

  /** Creates a draft. */
  async create(spec: CouponSpec): Promise<Result<CouponRecord>> {
    const invalid = this.invalid(spec);
    if (invalid) return invalid;
    const at = now(this.deps);
    return ok(await this.deps.coupons.create({ id: newId('cpn', at), spec, now: new Date(at) }));
  }

  async get(id: string): Promise<Result<CouponRecord>> {
    const coupon = await this.deps.coupons.get(id);
    return coupon ? ok(coupon) : notFound(id);
  }

  list(query: ListQuery): Promise<Page<CouponRecord>> {
    return this.deps.coupons.list(query);
  }

  /** Replaces a draft's spec (the HTTP layer merges a PATCH onto the current spec). */
  async update(id: string, spec: CouponSpec): Promise<Result<CouponRecord>> {
    const invalid = this.invalid(spec);
    if (invalid) return invalid;
    const updated = await this.deps.coupons.updateDraft(id, spec, new Date(now(this.deps)));
    if (updated) return ok(updated);
    return this.refuseEdit(id);
  }

  async remove(id: string): Promise<Result<null>> {
    if (await this.deps.coupons.deleteDraft(id)) return ok(null);
    return this.refuseEdit(id);
  }

  /**
   * Confirms a draft: stock rows in Postgres first, then gauges and policy. Idempotent: on a
   * live coupon it reloads whatever gauges are missing from `total − ledger`, never from
   * `total` alone, so a retried confirm after a partial failure cannot hand out stock twice.
   */
  async confirm(id: string): Promise<Result<CouponRecord>> {
    // The stock rows come from the draft as read: a PATCH landing in between makes the confirm
    // read again (the row is confirmed only if unchanged since), never confirm a stale spec.
    for (let attempt = 0; ; attempt++) {
      const coupon = await this.deps.coupons.get(id);
      if (!coupon) return notFound(id);
      if (coupon.status === 'archived') return fail('INVALID_STATE', `coupon ${id} is archived`);
      if (coupon.status !== 'draft') break;
      const keys = couponKeys(id);
      const rows: StockRow[] = [];
      if (coupon.issueStock) rows.push({ key: keys.issue, name: 'issue', ...both(coupon.issueStock.total) });
      if (coupon.useStock) rows.push({ key: keys.use, name: 'use', ...both(coupon.useStock.total) });
      if (coupon.budget) rows.push({ key: keys.budget, name: 'budget', ...both(coupon.budget.total) });
      if (await this.deps.coupons.confirm(id, rows, new Date(now(this.deps)), coupon.updatedAt)) break;
      if (attempt >= 5) return fail('INVALID_STATE', `coupon ${id} kept changing while it was confirmed; try again`);
    }
    const current = await this.deps.coupons.get(id);
    if (!current) return notFound(id);
    if (!isLive(current.status)) return fail('INVALID_STATE', `coupon ${id} is ${current.status}`);
    await this.ensureLive(current);
    return ok(current);
  }

  /** Records the pause (a new status version), then closes the policy unless a newer change got there first. */
  async pause(id: string): Promise<Result<CouponRecord>> {
    return this.move(id, 'paused');
  }

  /** Records the resume (a new status version), then opens the policy unless a newer change got there first. */
  async resume(id: string): Promise<Result<CouponRecord>> {
    return this.move(id, 'confirmed');
  }

  /**
   * Changes a live limit by `delta`, once per adjust id: the gauge refuses a remain below zero
   * and replays a retried adjust, then the durable total follows by version (a retry, or the
   * next sync, copies it; an older copy never overwrites a newer one).
   */
  async adjust(id: string, stock: StockRowName, delta: number, input: AdjustInput): Promise<Result<Adjusted>> {
    const coupon = await this.deps.coupons.get(id);
    if (!coupon) return notFound(id);
    if (!isLive(coupon.status)) {
      return fail('INVALID_STATE', `coupon ${id} is ${coupon.status}; only live stocks can be adjusted`);
    }
    if (!coupon.stocks[stock]) return fail('INVALID_STATE', `coupon ${id} has no ${stock} stock (unlimited)`);
    const keys = couponKeys(id);
    const opId = input.idempotencyKey === null ? newId('adj', now(this.deps)) : `${input.caller}:${input.idempotencyKey}`;
    const adjusted = await this.deps.gauges.adjust({ prefix: keys.prefix, key: keys[stock], delta, opId, fingerprint: `${stock}:${delta}` });
    if (!adjusted.ok) {
      switch (adjusted.reason) {
        case 'below_zero':
          return fail('BELOW_ZERO', `the ${stock} stock's remain would go below zero`);
        case 'conflict':
          return fail('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different adjust');
        case 'sealed':
          return fail('NOT_ACTIVE', `coupon ${id} is archived`);
        case 'unavailable':
          return fail('STOCK_UNAVAILABLE', `the live ${stock} stock of coupon ${id} is unavailable`);
      }
    }
    await this.deps.coupons.setTotal(keys[stock], adjusted.total, adjusted.version);
    return ok({ total: adjusted.total, remain: adjusted.remain, replayed: adjusted.replayed });
  }

  /** Live remains straight from the gauges; Postgres is asked only when the policy is missing. */
  async live(id: string): Promise<Result<LiveStocks>> {
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
      await this.deps.gauges.setPolicy(keys.prefix, couponPolicy(coupon));
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
        if (issued) gauges.push({ key: keys.held(subject), total: 0, remain: Math.max(0, issues - uses) });
        return gauges;
      });
      if (users.length > 0) await this.deps.gauges.load(users);
      loaded += users.length;
      if (page.length < REBUILD_PAGE) break;
      after = page[page.length - 1]?.subject ?? null;
    }
    // Holds still standing are listed again (the list that finds expired ones may be what was lost).
    await this.deps.gauges.relistHolds(keys.prefix);
    await this.deps.gauges.setPolicy(keys.prefix, couponPolicy(coupon));
    return { couponId: coupon.id, rebuilt: true, gauges: loaded };
  }

  /**
   * Moves a live coupon between confirmed and paused: the status first (conditional, a new
   * version), then the gauge's open flag at that version, which a newer change has overridden
   * already when it lost the race (`stale`). A policy that is missing is rebuilt; a sealed one
   * means an archive is under way.
   */
  private async move(id: string, to: 'confirmed' | 'paused'): Promise<Result<CouponRecord>> {
    const coupon = await this.deps.coupons.get(id);
    if (!coupon) return notFound(id);
    if (!isLive(coupon.status) || !canTransition(coupon.status, to)) {
      return fail('INVALID_STATE', `coupon ${id} is ${coupon.status} and cannot become ${to}`);
    }
    const version = await this.deps.coupons.transition(id, ['confirmed', 'paused'], to, new Date(now(this.deps)));
    const current = await this.deps.coupons.get(id);
    if (!current) return notFound(id);
    if (version === null) return fail('INVALID_STATE', `coupon ${id} is ${current.status} and cannot become ${to}`);
    const applied = await this.deps.gauges.setOpen(couponKeys(id).prefix, to === 'confirmed', version);
    if (applied === 'sealed') return fail('NOT_ACTIVE', `coupon ${id} is being archived`);
    if (applied === 'missing') await this.ensureLive(current);
    // The answer says what this change did: a newer pause or resume that landed since is its own
    // answer's to tell (the coupon read now shows it).
    return ok(current.statusVersion === version ? current : { ...current, status: to, statusVersion: version });
  }

  private invalid(spec: CouponSpec) {
    const problems = specProblems(spec);
    if (problems.length === 0) return null;
    return fail('VALIDATION_FAILED', problems.map((p) => `${p.path} ${p.message}`).join('; '), problems);
  }

  private async refuseEdit(id: string) {
    const coupon = await this.deps.coupons.get(id);
    if (!coupon) return notFound(id);
    return fail('NOT_EDITABLE', `coupon ${id} is ${coupon.status}; only drafts can be changed`);
  }
}

const both = (total: number) => ({ total, remain: total });
