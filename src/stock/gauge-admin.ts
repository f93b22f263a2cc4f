/**
 * The gauge port's admin side: a scope's policy, gauges loaded and read, adjusts and the seal of
 * an archive. None of it is on the hot path (see `gauge.ts` for takes and give-backs).
 */

/** Time windows and limits checked on the hot path. */
export interface Policy {
  open: boolean;
  /**
   * The version of the owner's state `open` was derived from (a coupon's status version). A
   * writer holding an older version never overrides the flag: a confirm or rebuild that read
   * `confirmed` cannot reopen a scope paused meanwhile.
   */
  version: number;
  /** Sealed for good (archived): every change is refused; `seal` sets it, nothing clears it. */
  sealed?: boolean;
  /**
   * Read only: a take or give-back found a gauge missing that had existed (evicted, or lost in a
   * failover) and failed closed; a rebuild from the ledger brings it back and clears this.
   */
  lost?: boolean;
  /** Windows by name, bounds in ms since the epoch, `null` = unbounded. */
  windows: Record<string, { start: number | null; end: number | null }>;
  /** Limits by name; an absent limit means unlimited. */
  limits: Record<string, number>;
}

export interface GaugeLoad {
  key: string;
  total: number;
  remain: number;
  /** When the adapter may forget it (ms since the epoch); kept forever when absent. */
  expiresAt?: number;
  /** The adjust count `total` stands at (see `LiveGauge.version`); 0 when absent. */
  version?: number;
}

export interface LiveGauge {
  total: number;
  remain: number;
  /** How many adjusts changed the total: a durable copy of `total` follows it by this version. */
  version: number;
}

export interface AdjustCommand {
  /** The scope's key prefix (its policy says whether it may still change). */
  prefix: string;
  key: string;
  /** Added to total and remain. */
  delta: number;
  /** The adjust's id: a second call with the same id replays the first answer, never adds twice. */
  opId: string;
  /** What was asked (stock and delta); the same id with another fingerprint is a conflict. */
  fingerprint: string;
}

export type AdjustResult =
  | { ok: true; total: number; remain: number; version: number; replayed: boolean }
  | { ok: false; reason: 'below_zero' | 'unavailable' | 'sealed' | 'conflict' };

/** What `setOpen` did: applied, or not because the flag is newer, the policy missing or the scope sealed. */
export type SetOpenResult = 'ok' | 'stale' | 'missing' | 'sealed';

export interface SealResult {
  /** `false` when the policy is missing (nothing was sealed). */
  found: boolean;
  /** Holds given back by this call (they can never be committed now). */
  given: number;
  /** Holds that could not be given back (a gauge they touch is missing). */
  stuck: number;
}
