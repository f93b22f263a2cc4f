/**
 * Sync and archival: Postgres catches up with the gauges. Every step is idempotent (drained
 * events are keyed by operation, snapshots are overwritten, transitions are conditional), so
 * two schedules and a manual sync running at once cannot double-count or double-archive.
 */
import type { LiveGauge } from '../stock/gauge.js';
import { CouponAdmin } from './admin.js';
import { archivedEvent, eventsOfSync, type NewEvent } from '../events/events.js';
import { deliverDue, type DeliveryRun } from '../events/webhooks.js';
import { hasEnded, isLive, STOCK_ROWS, type CouponRecord, type StockRowName } from './coupon.js';
import { now, notFound, type CouponDeps } from './deps.js';
import { fail, ok, type Result } from './errors.js';
import { couponKeys } from './keys.js';

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
}

export interface MaintenanceSummary {
  synced: number;
  archived: string[];
  /** Live coupons whose gauges or policy were missing and were rebuilt from the ledger. */
  rebuilt: string[];
  drifted: { couponId: string; stocks: StockRowName[] }[];
  missing: { couponId: string; stocks: StockRowName[] }[];
  failed: { couponId: string; error: string }[];
  /** Webhook deliveries sent by this run (absent without webhooks). */
  webhooks?: DeliveryRun;
}

const PAGE = 200;

export class Maintenance {
  private readonly admin: CouponAdmin;

  constructor(private readonly deps: CouponDeps) {
    this.admin = new CouponAdmin(deps);
  }

  /** Drains the ledger, copies live remains into Postgres and checks `total − remain = ledger`. */
  async sync(id: string): Promise<Result<SyncReport>> {
    const coupon = await this.deps.coupons.get(id);
    if (!coupon) return notFound(id);
    if (coupon.status === 'draft') return fail('NOT_ACTIVE', `coupon ${id} is a draft; confirm it first`);
    return ok(await this.syncRecord(coupon));
  }

  /**
   * Archives a live coupon: closes it, drains and syncs one last time, records `archived`,
   * then deletes its gauges. A missing gauge is rebuilt from the ledger first so the final
   * snapshot is never stale.
   */
  async archive(id: string): Promise<Result<CouponRecord>> {
    const coupon = await this.deps.coupons.get(id);
    if (!coupon) return notFound(id);
    if (coupon.status === 'archived') return ok(coupon);
    if (!isLive(coupon.status)) return fail('INVALID_STATE', `coupon ${id} is a draft; delete it instead`);
    await this.archiveLive(coupon);
    const archived = await this.deps.coupons.get(id);
    return archived ? ok(archived) : notFound(id);
  }

  /** Archives a live coupon; `true` when this call made the transition (another may race it). */
  private async archiveLive(coupon: CouponRecord): Promise<boolean> {
    const keys = couponKeys(coupon.id);
    if (!(await this.deps.gauges.setOpen(keys.prefix, false))) await this.admin.ensureLive({ ...coupon, status: 'paused' });
    let report = await this.syncRecord(coupon);
    if (report.missing.length > 0) {
      await this.admin.ensureLive({ ...coupon, status: 'paused' });
      report = await this.syncRecord(coupon);
    }
    const moved = await this.deps.coupons.transition(coupon.id, ['confirmed', 'paused'], 'archived', new Date(now(this.deps)));
    if (moved) await this.tell([archivedEvent(coupon)]);
    // Dropping is idempotent, and safe for the loser of a race: the winner synced first.
    await this.deps.gauges.drop(keys.prefix);
    return moved;
  }

  /**
   * The scheduled job: every live coupon is archived when its windows ended, else synced; then
   * the webhook deliveries that are due are sent.
   */
  async run(): Promise<MaintenanceSummary> {
    const summary: MaintenanceSummary = { synced: 0, archived: [], rebuilt: [], drifted: [], missing: [], failed: [] };
    let after: string | null = null;
    for (;;) {
      const ids = await this.deps.coupons.liveIds(after, PAGE);
      for (const id of ids) {
        try {
          await this.maintain(id, summary);
        } catch (error) {
          summary.failed.push({ couponId: id, error: error instanceof Error ? error.message : String(error) });
        }
      }
      if (ids.length < PAGE) break;
      after = ids[ids.length - 1] ?? null;
    }
    if (this.deps.webhooks) summary.webhooks = await deliverDue({ repo: this.deps.webhooks, now: () => now(this.deps) });
    return summary;
  }

  /** Records events for the webhooks (once per dedupe key); nothing without webhooks. */
  private async tell(events: NewEvent[]): Promise<void> {
    if (this.deps.webhooks && events.length > 0) await this.deps.webhooks.record(events, new Date(now(this.deps)));
  }

  private async maintain(id: string, summary: MaintenanceSummary): Promise<void> {
    const coupon = await this.deps.coupons.get(id);
    if (!coupon || !isLive(coupon.status)) return;
    if (hasEnded(coupon, now(this.deps))) {
      if (await this.archiveLive(coupon)) summary.archived.push(id);
      return;
    }
    const report = await this.syncRecord(coupon);
    summary.synced += 1;
    if (report.drifted.length > 0) summary.drifted.push({ couponId: id, stocks: report.drifted });
    if (report.missing.length > 0) summary.missing.push({ couponId: id, stocks: report.missing });
    // Recovery: gauges or policy gone (Redis flushed or evicted) are rebuilt from the ledger.
    if (report.missing.length > 0 || !(await this.deps.gauges.getPolicy(couponKeys(id).prefix))) {
      await this.admin.rebuild(coupon);
      summary.rebuilt.push(id);
    }
  }

  private async syncRecord(coupon: CouponRecord): Promise<SyncReport> {
    const keys = couponKeys(coupon.id);
    const live = isLive(coupon.status);
    // Holds whose time is up give their stock back before the books are read.
    if (live) await this.deps.gauges.expireHolds(keys.prefix, now(this.deps));
    const drained = live
      ? await this.deps.gauges.drain(keys.prefix, (events) => this.deps.ledger.append(events))
      : 0;
    const read = live ? await this.deps.gauges.read(STOCK_ROWS.map((name) => keys[name])) : [];
    const gauges = Object.fromEntries(STOCK_ROWS.map((name, i) => [name, coupon.stocks[name] ? (read[i] ?? null) : null])) as Record<StockRowName, LiveGauge | null>;
    const syncedAt = new Date(now(this.deps));
    const snapshots = STOCK_ROWS.flatMap((name) => {
      const gauge = gauges[name];
      return gauge ? [{ key: keys[name], remain: gauge.remain }] : [];
    });
    if (snapshots.length > 0) await this.deps.coupons.saveSnapshots(snapshots, syncedAt);
    const net: Record<string, number> = await this.deps.ledger.net(coupon.id);
    // A budget's ledger is the value the uses gave up, not their count.
    const ledgerOf = async (name: StockRowName) => (name === 'budget' ? this.deps.ledger.netValue(coupon.id) : (net[name] ?? 0));
    const report: SyncReport = {
      couponId: coupon.id,
      status: coupon.status,
      syncedAt,
      drained,
      issue: null,
      use: null,
      missing: [],
      drifted: [],
    };
    for (const name of STOCK_ROWS) {
      const stock = coupon.stocks[name];
      if (!stock) continue;
      const gauge = gauges[name];
      if (live && !gauge) report.missing.push(name);
      const remain = gauge ? gauge.remain : stock.remain;
      const ledgerNet = await ledgerOf(name);
      const drift = stock.total - remain - ledgerNet;
      if (drift !== 0) report.drifted.push(name);
      report[name] = {
        total: stock.total,
        remain,
        syncedAt: gauge ? syncedAt : stock.syncedAt,
        live: gauge !== null,
        ledger: ledgerNet,
        drift,
      };
    }
    await this.tell(eventsOfSync(report, this.deps.lowStockPercent ?? 10));
    return report;
  }
}
