/**
 * Sync and archival: Postgres catches up with the gauges. Every step is idempotent (drained
 * events are keyed by operation, snapshots are overwritten, transitions are conditional), so
 * two schedules and a manual sync running at once cannot double-count or double-archive.
 */
import type { LiveGauge } from '../stock/gauge.js';
import { archivedEvent, eventsOfSync, type NewEvent } from '../events/events.js';
import { deliverDue, type DeliveryRun } from '../events/webhooks.js';
import { hasEnded, isLive, STOCK_ROWS, type CouponRecord, type StockRowName } from './coupon.js';
import type { StockSync, SyncReport } from './sync-report.js';
import { now, notFound, type CouponDeps } from './deps.js';
import { fail, ok, type Result } from './errors.js';
import { couponKeys } from './keys.js';
import { CouponRecovery } from './recovery.js';

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
  private readonly recovery: CouponRecovery;

  constructor(private readonly deps: CouponDeps) {
    this.recovery = new CouponRecovery(deps);
  }

  /** Drains the ledger, copies live remains into Postgres and checks `total − remain = ledger`. */
  async sync(id: string): Promise<Result<SyncReport>> {
    const coupon = await this.deps.coupons.get(id);
    if (!coupon) return notFound(id);
    if (coupon.status === 'draft') return fail('NOT_ACTIVE', `coupon ${id} is a draft; confirm it first`);
    return ok(await this.syncRecord(coupon));
  }

  /**
   * Archives a live coupon: seals its gauges (every later take, restore, commit, adjust and
   * hold expiry is refused, standing holds are given back), drains and syncs one last time,
   * records `archived`, then deletes its gauges. After the seal nothing can change, so the final
   * drain holds every change any answer reported. Missing gauges are rebuilt before the seal.
   */
  async archive(id: string): Promise<Result<CouponRecord>> {
    const coupon = await this.deps.coupons.get(id);
    if (!coupon) return notFound(id);
    // Archived already: dropping again is idempotent and finishes one whose drop was cut short.
    // It keeps the records that replay takes even if the sealed tombstone itself was lost.
    if (coupon.status === 'archived') {
      await this.deps.gauges.drop(couponKeys(id).prefix, { archived: true });
      return ok(coupon);
    }
    if (!isLive(coupon.status)) return fail('INVALID_STATE', `coupon ${id} is a draft; delete it instead`);
    await this.archiveLive(coupon);
    const archived = await this.deps.coupons.get(id);
    return archived ? ok(archived) : notFound(id);
  }

  /** Archives a live coupon; `true` when this call made the transition (another may race it). */
  private async archiveLive(coupon: CouponRecord): Promise<boolean> {
    const keys = couponKeys(coupon.id);
    const at = now(this.deps);
    // A sealed scope loads nothing more, so whatever is missing comes back first.
    if (!(await this.deps.gauges.getPolicy(keys.prefix))?.sealed) await this.recovery.ensureLive({ ...coupon, status: 'paused' });
    const sealed = await this.deps.gauges.seal(keys.prefix, at);
    if (!sealed.found) {
      await this.recovery.ensureLive({ ...coupon, status: 'paused' });
      await this.deps.gauges.seal(keys.prefix, at);
    }
    await this.syncRecord(coupon, { final: true });
    const moved = (await this.deps.coupons.transition(coupon.id, ['confirmed', 'paused'], 'archived', new Date(now(this.deps)))) !== null;
    if (moved) await this.tell([archivedEvent(coupon)]);
    // Dropping is idempotent, and safe for the loser of a race: the winner synced first.
    await this.deps.gauges.drop(keys.prefix, { archived: true });
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
    const prefix = couponKeys(id).prefix;
    const policy = await this.deps.gauges.getPolicy(prefix);
    // Ended, or sealed by an archive that stopped halfway: (finish the) archive.
    if (hasEnded(coupon, now(this.deps)) || policy?.sealed) {
      if (await this.archiveLive(coupon)) summary.archived.push(id);
      return;
    }
    const report = await this.syncRecord(coupon);
    summary.synced += 1;
    if (report.drifted.length > 0) summary.drifted.push({ couponId: id, stocks: report.drifted });
    if (report.missing.length > 0) summary.missing.push({ couponId: id, stocks: report.missing });
    // Recovery: gauges or policy gone, or a lost gauge found by a take (Redis flushed, evicted,
    // a failover), are rebuilt from the ledger.
    if (report.missing.length > 0 || !policy || policy.lost) {
      await this.recovery.rebuild(coupon);
      summary.rebuilt.push(id);
    } else if (policy.open !== (coupon.status === 'confirmed')) {
      // A pause or resume whose gauge write failed: the status is the truth, by version.
      await this.deps.gauges.setOpen(prefix, coupon.status === 'confirmed', coupon.statusVersion);
    }
  }

  /**
   * `final`: the archive's sync of a sealed scope, whose ledger is complete once drained: a
   * stock whose gauge is missing is saved as `total − ledger` rather than left stale.
   */
  private async syncRecord(coupon: CouponRecord, { final = false } = {}): Promise<SyncReport> {
    const keys = couponKeys(coupon.id);
    const live = isLive(coupon.status);
    // Holds whose time is up give their stock back before the books are read.
    if (live && !final) await this.deps.gauges.expireHolds(keys.prefix, now(this.deps));
    const drained = live
      ? await this.deps.gauges.drain(keys.prefix, (events) => this.deps.ledger.append(events))
      : 0;
    const read = live ? await this.deps.gauges.read(STOCK_ROWS.map((name) => keys[name])) : [];
    const gauges = Object.fromEntries(STOCK_ROWS.map((name, i) => [name, coupon.stocks[name] ? (read[i] ?? null) : null])) as Record<StockRowName, LiveGauge | null>;
    // A final sync that finds a gauge gone may be the loser of two racing archives: the winner
    // copied the live totals into Postgres before it dropped the gauges, so the totals are read
    // again now, after the gauges — never `total − ledger` from a copy read before the winner ran.
    if (final && STOCK_ROWS.some((name) => coupon.stocks[name] && !gauges[name])) {
      const fresh = await this.deps.coupons.get(coupon.id);
      if (fresh) coupon = { ...coupon, stocks: fresh.stocks };
    }
    const syncedAt = new Date(now(this.deps));
    const net: Record<string, number> = await this.deps.ledger.net(coupon.id);
    // A budget's ledger is the value the uses gave up, not their count.
    const ledgerOf = async (name: StockRowName) => (name === 'budget' ? this.deps.ledger.netValue(coupon.id) : (net[name] ?? 0));
    const repaired: StockRowName[] = [];
    for (const name of STOCK_ROWS) {
      const gauge = gauges[name];
      const stock = coupon.stocks[name];
      // The live total is the truth; an older durable copy (an adjust whose answer was lost) catches up.
      if (gauge && stock && gauge.total !== stock.total && (await this.deps.coupons.setTotal(keys[name], gauge.total, gauge.version))) {
        stock.total = gauge.total;
        repaired.push(name);
      }
    }
    const snapshots: { key: string; remain: number }[] = [];
    for (const name of STOCK_ROWS) {
      const gauge = gauges[name];
      const stock = coupon.stocks[name];
      if (gauge) snapshots.push({ key: keys[name], remain: gauge.remain });
      else if (final && stock) snapshots.push({ key: keys[name], remain: stock.total - (await ledgerOf(name)) });
    }
    if (snapshots.length > 0) await this.deps.coupons.saveSnapshots(snapshots, syncedAt);
    const report: SyncReport = {
      couponId: coupon.id,
      status: coupon.status,
      syncedAt,
      drained,
      issue: null,
      use: null,
      missing: [],
      drifted: [],
      repaired,
    };
    for (const name of STOCK_ROWS) {
      const stock = coupon.stocks[name];
      if (!stock) continue;
      const gauge = gauges[name];
      if (live && !gauge) report.missing.push(name);
      const ledgerNet = await ledgerOf(name);
      const remain = gauge ? gauge.remain : final ? stock.total - ledgerNet : stock.remain;
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
