/**
 * Coupons and their stock rows in Postgres, through Drizzle. Every state change is one
 * conditional statement (or one transaction), so concurrent admins cannot race a coupon out of
 * its lifecycle.
 */
import { and, asc, desc, eq, gt, inArray, lt, sql, type SQL } from 'drizzle-orm';
import type { CouponRecord, CouponSpec, CouponStatus, PeriodStock, StockSnapshot, Window } from '../../coupon/coupon.js';
import type { Period } from '../../stock/periods.js';
import type { CouponRepository, ListQuery, Page, StockRow } from '../../coupon/ports.js';
import type { Db } from './db.js';
import { coupons, stocks } from './schema.js';

type CouponRow = typeof coupons.$inferSelect;
type StockRowDb = typeof stocks.$inferSelect;

const periodStockOf = (total: number | null, period: Period | null): PeriodStock | null => (total === null || period === null ? null : { total, period });
const windowOf = (start: Date | null, end: Date | null): Window | null => (start || end ? { start, end } : null);

function specColumns(spec: CouponSpec) {
  return {
    name: spec.name,
    issueTotal: spec.issueStock?.total ?? null,
    useTotal: spec.useStock?.total ?? null,
    issuePeriodTotal: spec.issuePeriodStock?.total ?? null,
    issuePeriod: spec.issuePeriodStock?.period ?? null,
    usePeriodTotal: spec.usePeriodStock?.total ?? null,
    usePeriod: spec.usePeriodStock?.period ?? null,
    budgetTotal: spec.budget?.total ?? null,
    budgetCurrency: spec.budget?.currency ?? null,
    perUserIssueLimit: spec.perUserIssueLimit,
    perUserUseLimit: spec.perUserUseLimit,
    issueWindowStart: spec.issueWindow?.start ?? null,
    issueWindowEnd: spec.issueWindow?.end ?? null,
    useWindowStart: spec.useWindow?.start ?? null,
    useWindowEnd: spec.useWindow?.end ?? null,
  };
}

/** A stock as reported: its row once confirmed, the configured total while a draft. */
function snapshot(total: number | null, row: StockRowDb | undefined, status: CouponStatus): StockSnapshot | null {
  if (total === null) return null;
  if (!row || status === 'draft') return { total, remain: total, syncedAt: null, totalVersion: 0 };
  return { total: row.total, remain: row.remain, syncedAt: row.syncedAt, totalVersion: row.totalVersion };
}

function toRecord(row: CouponRow, rows: StockRowDb[]): CouponRecord {
  const byName = new Map(rows.map((r) => [r.name, r]));
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    statusVersion: row.statusVersion,
    issueStock: row.issueTotal === null ? null : { total: row.issueTotal },
    useStock: row.useTotal === null ? null : { total: row.useTotal },
    issuePeriodStock: periodStockOf(row.issuePeriodTotal, row.issuePeriod),
    usePeriodStock: periodStockOf(row.usePeriodTotal, row.usePeriod),
    budget: row.budgetTotal === null || row.budgetCurrency === null ? null : { total: row.budgetTotal, currency: row.budgetCurrency },
    perUserIssueLimit: row.perUserIssueLimit,
    perUserUseLimit: row.perUserUseLimit,
    issueWindow: windowOf(row.issueWindowStart, row.issueWindowEnd),
    useWindow: windowOf(row.useWindowStart, row.useWindowEnd),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    stocks: {
      issue: snapshot(row.issueTotal, byName.get('issue'), row.status),
      use: snapshot(row.useTotal, byName.get('use'), row.status),
      budget: snapshot(row.budgetTotal, byName.get('budget'), row.status),
    },
  };
}

export class PostgresCouponRepository implements CouponRepository {
  private readonly db: Db;

  constructor({ db }: { db: Db }) {
    this.db = db;
  }

  async create({ id, spec, now }: { id: string; spec: CouponSpec; now: Date }): Promise<CouponRecord> {
    const [row] = await this.db
      .insert(coupons)
      .values({ id, status: 'draft', createdAt: now, updatedAt: now, ...specColumns(spec) })
      .returning();
    if (!row) throw new Error(`coupon ${id} was not inserted`);
    return toRecord(row, []);
  }

  async get(id: string): Promise<CouponRecord | null> {
    // One statement, so one round trip (one HTTP request on Neon): the coupon and its stock rows.
    const rows = await this.db.select({ coupon: coupons, stock: stocks }).from(coupons).leftJoin(stocks, eq(stocks.scope, coupons.id)).where(eq(coupons.id, id));
    const row = rows[0]?.coupon;
    if (!row) return null;
    return toRecord(row, rows.flatMap((r) => (r.stock ? [r.stock] : [])));
  }

  async list({ status, cursor, limit }: ListQuery): Promise<Page<CouponRecord>> {
    const where: SQL[] = [];
    if (status) where.push(eq(coupons.status, status));
    if (cursor) where.push(lt(coupons.id, cursor));
    const rows = await this.db
      .select()
      .from(coupons)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(coupons.id))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    const ids = page.map((r) => r.id);
    const stockRows = ids.length ? await this.db.select().from(stocks).where(inArray(stocks.scope, ids)) : [];
    const byScope = new Map<string, StockRowDb[]>();
    for (const r of stockRows) byScope.set(r.scope, [...(byScope.get(r.scope) ?? []), r]);
    return {
      items: page.map((r) => toRecord(r, byScope.get(r.id) ?? [])),
      nextCursor: rows.length > limit ? (page[page.length - 1]?.id ?? null) : null,
    };
  }

  async updateDraft(id: string, spec: CouponSpec, now: Date): Promise<CouponRecord | null> {
    const [row] = await this.db
      .update(coupons)
      .set({ ...specColumns(spec), updatedAt: now })
      .where(and(eq(coupons.id, id), eq(coupons.status, 'draft')))
      .returning();
    return row ? toRecord(row, []) : null;
  }

  async deleteDraft(id: string): Promise<boolean> {
    const rows = await this.db
      .delete(coupons)
      .where(and(eq(coupons.id, id), eq(coupons.status, 'draft')))
      .returning({ id: coupons.id });
    return rows.length > 0;
  }

  async confirm(id: string, rows: StockRow[], now: Date, unchangedSince?: Date): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const moved = await tx
        .update(coupons)
        .set({ status: 'confirmed', updatedAt: now, statusVersion: sql`${coupons.statusVersion} + 1` })
        .where(and(eq(coupons.id, id), eq(coupons.status, 'draft'), unchangedSince ? eq(coupons.updatedAt, unchangedSince) : undefined))
        .returning({ id: coupons.id });
      if (moved.length === 0) return false;
      if (rows.length > 0) {
        await tx
          .insert(stocks)
          .values(rows.map((r) => ({ key: r.key, scope: id, name: r.name, total: r.total, remain: r.remain, syncedAt: now })))
          .onConflictDoNothing();
      }
      return true;
    });
  }

  async transition(id: string, from: readonly CouponStatus[], to: CouponStatus, now: Date): Promise<number | null> {
    const [row] = await this.db
      .update(coupons)
      .set({ status: to, updatedAt: now, statusVersion: sql`${coupons.statusVersion} + 1` })
      .where(and(eq(coupons.id, id), inArray(coupons.status, [...from])))
      .returning({ version: coupons.statusVersion });
    return row ? row.version : null;
  }

  async setTotal(key: string, total: number, version: number): Promise<boolean> {
    const rows = await this.db
      .update(stocks)
      .set({ total, totalVersion: version })
      .where(and(eq(stocks.key, key), lt(stocks.totalVersion, version)))
      .returning({ key: stocks.key });
    return rows.length > 0;
  }

  async saveSnapshots(rows: { key: string; remain: number }[], syncedAt: Date): Promise<void> {
    if (rows.length === 0) return;
    // One statement: a coupon's stocks are synced together or not at all, in one round trip
    // (each one is an HTTP request on Neon).
    const remain = sql`case ${stocks.key} ${sql.join(
      rows.map((r) => sql`when ${r.key} then ${r.remain}::bigint`),
      sql` `,
    )} end`;
    await this.db
      .update(stocks)
      .set({ remain, syncedAt })
      .where(inArray(stocks.key, rows.map((r) => r.key)));
  }

  async liveIds(after: string | null, limit: number): Promise<string[]> {
    const live = inArray(coupons.status, ['confirmed', 'paused']);
    const rows = await this.db
      .select({ id: coupons.id })
      .from(coupons)
      .where(after ? and(live, gt(coupons.id, after)) : live)
      .orderBy(asc(coupons.id))
      .limit(limit);
    return rows.map((r) => r.id);
  }

  async ping(): Promise<void> {
    await this.db.execute(sql`select 1`);
  }
}
