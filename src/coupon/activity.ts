/**
 * A coupon's sale as the admin page charts it: per minute, the takes, restores and refusals of
 * each stock, and what was left at the end of each minute (`total − the ledger's net` up to
 * then). Takes, restores and remains come from the ledger and are exact; refusals are the
 * best-effort counts of `refusals.ts`.
 */
import type { CouponRecord, StockName } from './coupon.js';
import type { ActivityRow, LedgerRepository } from './ports.js';

export const MINUTE = 60_000;
/** How far back a chart looks. */
export const CHART_MINUTES = 60;

export interface SalePoint {
  /** The start of the minute. */
  minute: Date;
  takes: number;
  restores: number;
  refusals: number;
  /** Left at the end of the minute; `null` for an unlimited stock. */
  remain: number | null;
}

/** One stock's minutes with activity in the window. */
export interface SaleSeries {
  kind: StockName;
  /** The total the remains are counted from (`null`: unlimited). */
  total: number | null;
  /** Left when the window opened (`null`: unlimited). */
  remainBefore: number | null;
  points: SalePoint[];
}

export interface SaleActivity {
  /** The window: [from, to), whole minutes. */
  from: Date;
  to: Date;
  /** The stocks with any take, restore or refusal in the window (issue first). */
  series: SaleSeries[];
}

/**
 * The window a coupon's chart covers: the last hour up to now (the current minute included),
 * or, for an archived coupon, up to its archival.
 */
export function chartWindow(coupon: Pick<CouponRecord, 'status' | 'updatedAt'>, now: number): { from: Date; to: Date } {
  const end = coupon.status === 'archived' ? Math.min(now, coupon.updatedAt.getTime()) : now;
  const to = Math.floor(end / MINUTE) * MINUTE + MINUTE;
  return { from: new Date(to - CHART_MINUTES * MINUTE), to: new Date(to) };
}

const KINDS: readonly StockName[] = ['issue', 'use'];

/** Shapes the rows of `LedgerRepository.activity` into one series per stock with activity. */
export function saleSeries(rows: ActivityRow[], totals: Record<StockName, number | null>): SaleSeries[] {
  const series: SaleSeries[] = [];
  for (const kind of KINDS) {
    const mine = rows.filter((r) => r.kind === kind).sort((a, b) => a.minute.getTime() - b.minute.getTime());
    const first = mine[0];
    if (!first) continue;
    const total = totals[kind];
    const left = (net: number) => (total === null ? null : total - net);
    series.push({
      kind,
      total,
      remainBefore: left(first.netAfter - (first.takes - first.restores)),
      points: mine.map((r) => ({ minute: r.minute, takes: r.takes, restores: r.restores, refusals: r.refusals, remain: left(r.netAfter) })),
    });
  }
  return series;
}

/**
 * A coupon's chart: one query over its ledger and refusal counts. `totals` are the stocks'
 * current totals: the ledger does not record adjusts, so after an adjust the whole remain line
 * is counted from the new total (its last point is exact, earlier ones moved by the adjust).
 */
export async function saleActivity(
  ledger: Pick<LedgerRepository, 'activity'>,
  coupon: Pick<CouponRecord, 'id' | 'status' | 'updatedAt'>,
  totals: Record<StockName, number | null>,
  now: number,
): Promise<SaleActivity> {
  const { from, to } = chartWindow(coupon, now);
  return { from, to, series: saleSeries(await ledger.activity(coupon.id, from, to), totals) };
}
