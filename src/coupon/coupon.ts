/**
 * The coupon: a consumer of the generic stock domain. Pure types and rules — no drivers, no HTTP.
 */
import type { Policy } from '../stock/gauge.js';
import type { Period } from '../stock/periods.js';

export const COUPON_STATUSES = ['draft', 'confirmed', 'paused', 'archived'] as const;
export type CouponStatus = (typeof COUPON_STATUSES)[number];

/** A time window; a `null` bound is open. */
export interface Window {
  start: Date | null;
  end: Date | null;
}

/** A stock that starts afresh every period (in the service's time zone), e.g. 1,000 issues a day. */
export interface PeriodStock {
  total: number;
  period: Period;
}

/** A budget in minor currency units (cents): `total` 50000 EUR is €500.00. */
export interface Budget {
  total: number;
  /** ISO 4217 code, e.g. `EUR`. */
  currency: string;
}

/** What an admin configures. `null` stock or limit = unlimited; `null` window = always open. */
export interface CouponSpec {
  name: string;
  issueStock: { total: number } | null;
  useStock: { total: number } | null;
  /** Issues per period, checked together with `issueStock` (`null` = no period cap). */
  issuePeriodStock: PeriodStock | null;
  /** Uses per period, checked together with `useStock`. */
  usePeriodStock: PeriodStock | null;
  /** A money budget: every use takes its discount from it (minor units), all or nothing with the rest. */
  budget: Budget | null;
  perUserIssueLimit: number | null;
  perUserUseLimit: number | null;
  issueWindow: Window | null;
  useWindow: Window | null;
}

/** A spec with no limits and no windows: a public code, always open, unlimited. */
export const unlimitedSpec = (name: string, over: Partial<CouponSpec> = {}): CouponSpec => ({
  name,
  issueStock: null,
  useStock: null,
  issuePeriodStock: null,
  usePeriodStock: null,
  budget: null,
  perUserIssueLimit: null,
  perUserUseLimit: null,
  issueWindow: null,
  useWindow: null,
  ...over,
});

export interface Coupon extends CouponSpec {
  id: string;
  status: CouponStatus;
  createdAt: Date;
  updatedAt: Date;
}

export type StockName = 'issue' | 'use';
/** Every stock a coupon may keep a row and a gauge for: the counts, and the money budget. */
export type StockRowName = StockName | 'budget';
export const STOCK_ROWS: readonly StockRowName[] = ['issue', 'use', 'budget'];

/** The durable view of a stock: configured total and the last synced remain. */
export interface StockSnapshot {
  total: number;
  remain: number;
  syncedAt: Date | null;
  /** The live gauge's adjust count this `total` was copied at. */
  totalVersion: number;
}

/** A coupon with its stocks as Postgres knows them. */
export interface CouponRecord extends Coupon {
  /** Bumped by every status change: the gauge's open flag follows the newest. */
  statusVersion: number;
  stocks: Record<StockRowName, StockSnapshot | null>;
}

/** The configured total of a stock (`null` = unlimited / none). */
export function configuredTotal(spec: CouponSpec, name: StockRowName): number | null {
  const stock = name === 'issue' ? spec.issueStock : name === 'use' ? spec.useStock : spec.budget;
  return stock ? stock.total : null;
}

/**
 * A coupon with an issue stock or a per-user issue limit is *issued*: a user must hold an
 * issued, unused coupon to use it. Without either it is a public code anyone may use.
 */
export function isIssued(spec: Pick<CouponSpec, 'issueStock' | 'perUserIssueLimit'>): boolean {
  return spec.issueStock !== null || spec.perUserIssueLimit !== null;
}

/** Lifecycle: `draft → confirmed ⇄ paused → archived`. Staying put is allowed (idempotent). */
const TRANSITIONS: Record<CouponStatus, readonly CouponStatus[]> = {
  draft: ['draft', 'confirmed'],
  confirmed: ['confirmed', 'paused', 'archived'],
  paused: ['paused', 'confirmed', 'archived'],
  archived: ['archived'],
};

export function canTransition(from: CouponStatus, to: CouponStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Confirmed or paused: the coupon's gauges are live. */
export function isLive(status: CouponStatus): boolean {
  return status === 'confirmed' || status === 'paused';
}

/** Largest per-user limit: the durable column is a Postgres `integer`. */
export const MAX_PER_USER_LIMIT = 2_147_483_647;

/** Problems with a spec that a schema cannot see (window order), and the per-user limits' range. Empty when valid. */
export function specProblems(spec: CouponSpec): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  for (const name of ['perUserIssueLimit', 'perUserUseLimit'] as const) {
    const limit = spec[name];
    if (limit !== null && (limit < 1 || limit > MAX_PER_USER_LIMIT)) problems.push({ path: name, message: `must be from 1 to ${MAX_PER_USER_LIMIT}` });
  }
  for (const name of ['issueWindow', 'useWindow'] as const) {
    const w = spec[name];
    if (w?.start && w.end && w.start.getTime() >= w.end.getTime()) {
      problems.push({ path: `${name}.end`, message: 'must be after start' });
    }
  }
  return problems;
}

/** Has every window of the coupon ended? Coupons with an open-ended window never end. */
export function hasEnded(spec: CouponSpec, now: number): boolean {
  const ends = [spec.issueWindow?.end ?? null, spec.useWindow?.end ?? null];
  return ends.every((end) => end !== null && end.getTime() <= now);
}

const ms = (d: Date | null | undefined): number | null => (d ? d.getTime() : null);

/**
 * The rules the gauge checks on every take, derived from the spec; open when the status is
 * `confirmed`, at the status version it was read at.
 */
export function couponPolicy(coupon: CouponSpec & Pick<CouponRecord, 'status' | 'statusVersion'>): Policy {
  const spec = coupon;
  const limits: Record<string, number> = {};
  if (spec.issueStock) limits.issue = spec.issueStock.total;
  if (spec.useStock) limits.use = spec.useStock.total;
  if (spec.issuePeriodStock) limits[periodLimit('issue', spec.issuePeriodStock.period)] = spec.issuePeriodStock.total;
  if (spec.usePeriodStock) limits[periodLimit('use', spec.usePeriodStock.period)] = spec.usePeriodStock.total;
  if (spec.budget) limits.budget = spec.budget.total;
  if (spec.perUserIssueLimit !== null) limits.perUserIssue = spec.perUserIssueLimit;
  if (spec.perUserUseLimit !== null) limits.perUserUse = spec.perUserUseLimit;
  if (isIssued(spec)) limits[UNUSED_ISSUES] = 0;
  return {
    open: coupon.status === 'confirmed',
    version: coupon.statusVersion,
    windows: {
      issue: { start: ms(spec.issueWindow?.start), end: ms(spec.issueWindow?.end) },
      use: { start: ms(spec.useWindow?.start), end: ms(spec.useWindow?.end) },
    },
    limits,
  };
}

/**
 * The policy limit of a user's unused issues (issued, not yet used): present, at 0, on an
 * issued coupon, so a use finds the user's count or is refused. Its stored name is `held`,
 * kept so policies written by earlier releases stay valid; it has nothing to do with a
 * checkout's hold.
 */
export const UNUSED_ISSUES = 'held';

/** The policy limit of a period stock (`issuePerDay`, `usePerWeek`, …). */
export const periodLimit = (stock: StockName, period: Period) => `${stock}Per${period === 'day' ? 'Day' : 'Week'}` as const;
