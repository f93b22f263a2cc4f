/**
 * Durable-store ports of the coupon module. Adapters: `src/adapters/postgres/`.
 */
import type { LedgerEvent } from '../stock/gauge.js';
import type { CouponRecord, CouponSpec, CouponStatus, StockRowName } from './coupon.js';

export interface ListQuery {
  status?: CouponStatus;
  /** Return coupons whose id sorts before this one (newest first). */
  cursor?: string;
  limit: number;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** A stock row to create at confirm time. */
export interface StockRow {
  key: string;
  name: StockRowName;
  total: number;
  remain: number;
}

export interface CouponRepository {
  /** Inserts a new draft. */
  create(record: { id: string; spec: CouponSpec; now: Date }): Promise<CouponRecord>;
  get(id: string): Promise<CouponRecord | null>;
  list(query: ListQuery): Promise<Page<CouponRecord>>;
  /** Replaces the spec of a draft; `null` when the coupon is missing or not a draft. */
  updateDraft(id: string, spec: CouponSpec, now: Date): Promise<CouponRecord | null>;
  /** Deletes a draft; `false` when the coupon is missing or not a draft. */
  deleteDraft(id: string): Promise<boolean>;
  /**
   * Moves a draft to `confirmed` and creates its stock rows, in one transaction; `false` when it
   * was not a draft, or (with `unchangedSince`) was edited after the read the rows came from.
   */
  confirm(id: string, stocks: StockRow[], now: Date, unchangedSince?: Date): Promise<boolean>;
  /**
   * Changes the status when it is one of `from`, bumping the status version; the new version, or
   * `null` when the status was not one of `from`.
   */
  transition(id: string, from: readonly CouponStatus[], to: CouponStatus, now: Date): Promise<number | null>;
  /**
   * Copies a live stock's total at adjust `version`; an older copy never overwrites a newer one,
   * so a retried or late write cannot undo an adjust. `false` when nothing changed.
   */
  setTotal(key: string, total: number, version: number): Promise<boolean>;
  /** Writes live remains into stock rows. */
  saveSnapshots(rows: { key: string; remain: number }[], syncedAt: Date): Promise<void>;
  /** Ids of live (confirmed or paused) coupons, oldest first, after `cursor`. */
  liveIds(after: string | null, limit: number): Promise<string[]>;
  /** Pings the store. */
  ping(): Promise<void>;
}

/** One user's operations on one coupon, from the ledger. */
export interface SubjectOperation {
  opId: string;
  couponId: string;
  kind: string;
  ref: string | null;
  at: Date;
  cancelledAt: Date | null;
}

export interface LedgerRepository {
  /** Appends events; an event already recorded (same operation and action) is ignored. */
  append(events: LedgerEvent[]): Promise<void>;
  /** Net amount (takes − restores) of each kind in a scope. */
  net(scope: string): Promise<Record<string, number>>;
  /** A subject's operations, newest first, at most `limit`. */
  bySubject(subject: string, limit: number): Promise<SubjectOperation[]>;
  /** One operation of a scope as the ledger knows it (its take, and whether it was restored); `null` when unknown. */
  operation(scope: string, opId: string): Promise<{ kind: string; restored: boolean } | null>;
  /** Net value (takes − restores) moved from value gauges in a scope: a money budget's ledger. */
  netValue(scope: string): Promise<number>;
  /** Net amount of the takes of `kind` made in [from, to), less their restores (a period's use of its cap). */
  netTakenIn(scope: string, kind: string, from: Date, to: Date): Promise<number>;
  /** Net amount of each kind per subject in a scope: a page of subjects after `after`, in order. */
  netBySubject(scope: string, after: string | null, limit: number): Promise<SubjectNet[]>;
  /**
   * A scope's activity per minute in [from, to) (`from` a whole minute), in one query: takes and
   * restores from the ledger, refusals from the best-effort refusal counts, and the net amount
   * taken up to the end of each minute (all history, so `total − netAfter` is the remain then).
   * Only minutes with any of them, by minute then kind.
   */
  activity(scope: string, from: Date, to: Date): Promise<ActivityRow[]>;
}

/** One minute of one kind in a scope's activity. */
export interface ActivityRow {
  /** The start of the minute. */
  minute: Date;
  kind: string;
  takes: number;
  restores: number;
  refusals: number;
  /** Takes − restores of this kind from the first ledger event to the end of this minute. */
  netAfter: number;
}

/** Refused takes of one coupon, kind and minute, counted in memory. */
export interface RefusalCount {
  couponId: string;
  kind: string;
  /** The start of the minute, ms since the epoch. */
  minute: number;
  count: number;
}

export interface RefusalRepository {
  /** Adds counts to the stored ones (a row per coupon, minute and kind). */
  add(counts: RefusalCount[]): Promise<void>;
}

export interface SubjectNet {
  subject: string;
  net: Record<string, number>;
}
