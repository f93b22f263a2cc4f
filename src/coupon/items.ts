/**
 * The items of a take: one gauge per limit the take must respect, all taken or none. Each item
 * is named by the limit it enforces (`GaugeItem.limit`, a policy limit); whatever comes back
 * (a remain, a refusal) is read by that name, never by the item's place in the list, so the
 * builders below may list items in any order.
 */
import type { GaugeItem } from '../stock/gauge.js';
import { PERIODS, type Period, type PeriodWindow } from '../stock/periods.js';
import { periodLimit, UNUSED_ISSUES, type StockName } from './coupon.js';
import type { CouponKeys } from './keys.js';

export type TakeKind = StockName;

/** Every limit a take's item may enforce: the policy limit names. */
export type ItemLimit = StockName | 'budget' | 'perUserIssue' | 'perUserUse' | typeof UNUSED_ISSUES | ReturnType<typeof periodLimit>;

/** A take's item, named by the limit it enforces. */
export interface TakeItem extends GaugeItem {
  limit: ItemLimit;
}

/** The current window of each period kind: what a take's period items are named after. */
export type CurrentPeriods = Record<Period, PeriodWindow>;

/** When a period's gauge may be forgotten: one more period after it ends. */
export const periodExpiry = (w: PeriodWindow): number => w.end + (w.end - w.start);

/**
 * The items of the current periods of a stock: every kind is always sent (the policy skips the
 * ones the coupon does not cap, so no trip to Postgres tells which). A period's gauge lives one
 * period past its end, so a cancel soon after still gives back to it.
 */
function periodItems(keys: CouponKeys, stock: StockName, periods: CurrentPeriods): TakeItem[] {
  return PERIODS.map((period) => {
    const w = periods[period];
    return { key: keys.period(stock, period, w.label), n: 1, limit: periodLimit(stock, period), lazy: true, expiresAt: periodExpiry(w) };
  });
}

/**
 * Items of an issue: the issue stock, the user's issue limit and the current day's and week's
 * caps are taken one each; the user's count of unused issues is given one.
 */
export function issueItems(keys: CouponKeys, userId: string, periods: CurrentPeriods): TakeItem[] {
  return [
    { key: keys.issue, n: 1, limit: 'issue', lazy: false },
    { key: keys.userIssue(userId), n: 1, limit: 'perUserIssue', lazy: true },
    { key: keys.unusedIssues(userId), n: -1, limit: UNUSED_ISSUES, lazy: true },
    ...periodItems(keys, 'issue', periods),
  ];
}

/**
 * Items of a use: one of the user's unused issues, the use stock, the user's use limit, the
 * day's and week's caps, and `discount` from the money budget; a use that states no discount is
 * refused where there is a budget.
 */
export function useItems(keys: CouponKeys, userId: string, periods: CurrentPeriods, discount: number | null = null): TakeItem[] {
  const budget: TakeItem = { key: keys.budget, n: discount ?? 0, limit: 'budget', lazy: false };
  return [
    { key: keys.unusedIssues(userId), n: 1, limit: UNUSED_ISSUES, lazy: true },
    { key: keys.use, n: 1, limit: 'use', lazy: false },
    { key: keys.userUse(userId), n: 1, limit: 'perUserUse', lazy: true },
    ...periodItems(keys, 'use', periods),
    discount === null ? { ...budget, unstated: true } : budget,
  ];
}

/** The items of a take of `kind`. */
export function takeItems(kind: TakeKind, keys: CouponKeys, userId: string, periods: CurrentPeriods, discount: number | null): TakeItem[] {
  return kind === 'issue' ? issueItems(keys, userId, periods) : useItems(keys, userId, periods, discount);
}

/** The remains a gauge answered (one per item, in the items' order), by the limit each item enforces. */
export function remainsByLimit(items: readonly Pick<TakeItem, 'limit'>[], remains: readonly (number | null)[]): Partial<Record<ItemLimit, number | null>> {
  const out: Partial<Record<ItemLimit, number | null>> = {};
  items.forEach((item, i) => (out[item.limit] = remains[i] ?? null));
  return out;
}

/** The period an item caps, `null` for an item that is no period's cap. */
export function periodOfLimit(limit: ItemLimit): Period | null {
  for (const stock of ['issue', 'use'] as const) {
    for (const period of PERIODS) if (periodLimit(stock, period) === limit) return period;
  }
  return null;
}

/**
 * The limits of a take's items, in the order a gauge answers a restore's remains (the order
 * the take was sent in); derived from the builders, so it follows any change of their order.
 */
export function itemLimits(kind: TakeKind): ItemLimit[] {
  const window: PeriodWindow = { period: 'day', label: '', start: 0, end: 0 };
  const none: CouponKeys = { prefix: '', issue: '', use: '', budget: '', userIssue: () => '', userUse: () => '', unusedIssues: () => '', period: () => '' };
  return takeItems(kind, none, '', { day: window, week: window }, 0).map((item) => item.limit);
}
