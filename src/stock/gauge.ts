/**
 * The gauge port: live, atomic stock counters. The stock domain knows nothing of coupons;
 * a consumer names its keys (see `src/coupon/keys.ts`) and describes each operation as a
 * list of items over those keys.
 *
 * A gauge holds the *remaining* amount and its total. Gauges are grouped in scopes; a scope is
 * a key prefix (for a coupon `cs:{c:<id>}:`) under which the adapter also keeps its own records:
 * the scope's policy, its operations, idempotency records and ledger events. The policy holds
 * what the hot path must check without a trip to the durable store: whether the scope is open,
 * its time windows, and the limits that lazily created gauges start from. The shapes of the
 * scope's policy and of the admin side (load, adjust, seal): `gauge-admin.ts`.
 */
import type { AdjustCommand, AdjustResult, GaugeLoad, LiveGauge, Policy, SealResult, SetOpenResult } from './gauge-admin.js';

export type { AdjustCommand, AdjustResult, GaugeLoad, LiveGauge, Policy, SealResult, SetOpenResult } from './gauge-admin.js';

/** One gauge touched by an operation. */
export interface GaugeItem {
  /** Gauge key. */
  key: string;
  /** Amount taken (> 0) or given (< 0). A take checks `remain >= n` before anything is written. */
  n: number;
  /**
   * Name of the policy limit that governs this item. When the policy has no such limit the
   * item is unlimited and skipped (its remain reads as `null`). For an item that is not lazy
   * the limit's value is not used: its presence says the gauge must exist.
   */
  limit: string;
  /**
   * `true`: a gauge that does not exist yet starts at the policy limit (per-user counters, the
   * gauge of the current period). `false`: the gauge must exist; a missing one fails closed with
   * `unavailable`. A restore skips a lazy gauge that is gone (its period is over, or it was never
   * more than its fresh state), where a missing required gauge is `unavailable`.
   */
  lazy: boolean;
  /**
   * The caller did not say how much this item takes (`n` is then 0): a take whose policy limits
   * the item is refused with `unstated`, never let through for free; without a limit it is skipped.
   */
  unstated?: boolean;
  /**
   * For a lazy gauge: when the adapter may forget it (ms since the epoch), set when the take
   * creates it. A period's gauge lives a little past its period so late cancels still refund it.
   */
  expiresAt?: number;
}

/** What the ledger records for an operation: written atomically with the gauge change. */
export interface LedgerFacts {
  /** The scope the operation belongs to (a coupon id, for the coupon module). */
  scope: string;
  /** The consumer's name for the operation (`issue`, `use`, …). */
  kind: string;
  /** Who took (a user id). */
  subject: string;
  /** An optional reference (an order id). */
  ref: string | null;
  /** Units counted by the ledger for this operation (1 for a coupon issue or use). */
  amount: number;
  /**
   * What the operation took from a value gauge (a money budget, in minor units), recorded beside
   * the count so `total − remain = ledger` can be checked for that gauge too; `null` or absent: none.
   */
  value?: number | null;
}

export interface TakeCommand {
  /** The scope's key prefix; every item key starts with it. */
  prefix: string;
  /** Which window of the policy must be open (`issue`, `use`, …). */
  window: string;
  /** The id this operation gets if it is new. */
  opId: string;
  /** Idempotency key within the scope; a second take with the same key replays the first answer. */
  idempotencyKey: string;
  /** Fingerprint of the request; the same key with another fingerprint is a conflict. */
  fingerprint: string;
  /** Gauges changed all or nothing. */
  items: GaugeItem[];
  /** What the ledger records. */
  ledger: LedgerFacts;
  /** Current time in ms since the epoch (windows are checked against it). */
  now: number;
  /**
   * A hold: the take is provisional until `expiresAt` (ms since the epoch), when the gauge gives
   * it back by itself (lazily, in the scope's next take, and by `expireHolds`) unless it was
   * committed. Its idempotency record goes with it, so the same key may hold again afterwards.
   */
  hold?: { expiresAt: number };
  /**
   * Takes sent together with the same `order` must run in the order they were sent (a batch:
   * the first users of its list get the stock). One pipeline or one transaction keeps that by
   * itself; a transport spreading calls over several connections keeps such takes on one.
   */
  order?: string;
}

export type TakeRefusal =
  /** The policy or a required gauge is missing: fail closed. */
  | { ok: false; reason: 'unavailable' }
  /** The scope is paused. */
  | { ok: false; reason: 'closed' }
  /** The scope is sealed (archived, or being archived): it never changes again. */
  | { ok: false; reason: 'sealed' }
  /**
   * The take would be refused, and holds whose time is up could not all be given back first
   * (too many at once, or a gauge they touch is missing): refusing would be a false sell-out,
   * so the take fails closed and may be retried.
   */
  | { ok: false; reason: 'unsettled' }
  /** Outside the window. */
  | { ok: false; reason: 'not_started' | 'ended' }
  /** Item `index` does not have `n` left. */
  | { ok: false; reason: 'insufficient'; index: number }
  /** Item `index` is limited, and the caller did not say how much it takes. */
  | { ok: false; reason: 'unstated'; index: number }
  /** The idempotency key was used with another fingerprint. */
  | { ok: false; reason: 'conflict' };

export type TakeResult =
  | {
      ok: true;
      /** The operation's id: the new one, or the first one when replayed. */
      opId: string;
      /** Remain of each item after the take, `null` for unlimited items. */
      remains: (number | null)[];
      /** `true` when this answer is the replay of an earlier take. */
      replayed: boolean;
      /** A hold's expiry (of the first take, on a replay); `null` for a plain take. */
      holdExpiresAt: number | null;
      /** Present when the gauge elected this request to drain the scope's ledger (see `drainElected`). */
      drain?: DrainDuty;
    }
  | TakeRefusal;

/**
 * The duty to drain a scope's ledger: a gauge that elects drainers hands it to one take or
 * restore at a time, under a lease, so however many processes or isolates serve a scope, one
 * of them drains it.
 */
export interface DrainDuty {
  /** The drainer's name, as the lease holds it. */
  holder: string;
}

/** What one round of an elected drainer did. */
export interface DrainRound {
  /** Events moved into the durable ledger. */
  moved: number;
  /**
   * `true`: the drainer still holds the lease and events may keep coming: it drains again after
   * the interval. `false`: the stream was empty (the lease is given up, the next event elects a
   * drainer) or another drainer holds the lease: it stops.
   */
  more: boolean;
}

export interface RestoreCommand {
  /** The scope's key prefix. */
  prefix: string;
  /** The operation to give back. */
  opId: string;
  /** The kind the operation must have; another kind reads as `not_found`. */
  kind: string;
  now: number;
  /** `hold`: a release, only of a hold not yet committed (else `not_found` / `committed`). Default `any`. */
  mode?: 'any' | 'hold';
}

export interface CommitCommand {
  prefix: string;
  opId: string;
  now: number;
}

export type CommitResult =
  | { ok: true; committed: boolean; subject: string; ref: string | null }
  /** No such operation in this scope; the scope is missing, or sealed. */
  | { ok: false; reason: 'not_found' | 'unavailable' | 'sealed' }
  /** The operation is there, but it is a plain take, not a hold. */
  | { ok: false; reason: 'not_hold' }
  /** Given back already: released, or its time was up (`drain`: this call gave it back and was elected). */
  | { ok: false; reason: 'expired'; drain?: DrainDuty };

export type RestoreResult =
  | {
      ok: true;
      /** Remain of each item of the original take after the restore. */
      remains: (number | null)[];
      /** `false` when this call found the operation already restored. */
      restored: boolean;
      /** The original operation. */
      op: OperationRecord;
      /** Present when the gauge elected this request to drain the scope's ledger. */
      drain?: DrainDuty;
    }
  | { ok: false; reason: 'not_found' | 'unavailable' | 'sealed' }
  /** A release (mode `hold`) of a plain take: it is there, but not a hold. */
  | { ok: false; reason: 'not_hold' }
  /** A release of a hold that was committed (cancel the use instead). */
  | { ok: false; reason: 'committed' }
  /** Giving back would drive item `index` below zero (e.g. the issued coupon is already used). */
  | { ok: false; reason: 'insufficient'; index: number };

/** An operation as the gauge remembers it. */
export interface OperationRecord {
  opId: string;
  kind: string;
  scope: string;
  subject: string;
  ref: string | null;
  amount: number;
  at: number;
  restoredAt: number | null;
}

/** A ledger event: a take or a restore of one operation. */
export interface LedgerEvent extends LedgerFacts {
  opId: string;
  action: 'take' | 'restore';
  at: number;
}

export interface GaugePort {
  /** Which store backs the gauges (reported by `/health`). */
  readonly name: 'redis' | 'postgres';
  /** Creates gauges that do not exist yet; existing ones are left untouched. */
  load(gauges: GaugeLoad[]): Promise<void>;
  /**
   * Writes a scope's policy (windows, limits); `open` only when `policy.version` is at least the
   * stored one. A sealed scope is left as it is (`false`).
   */
  setPolicy(prefix: string, policy: Policy): Promise<boolean>;
  /** Opens or closes a scope, unless the stored flag came from a newer `version` (or is sealed, or missing). */
  setOpen(prefix: string, open: boolean, version: number): Promise<SetOpenResult>;
  /**
   * Seals a scope for good: closed, every later take, restore, commit, adjust and hold expiry
   * refused, so a final drain sees every change. Gives back up to `limit` standing holds per call
   * (call again while `given > 0`). Idempotent.
   */
  seal(prefix: string, now: number, limit?: number): Promise<SealResult>;
  /** The scope's policy, `null` when missing. */
  getPolicy(prefix: string): Promise<Policy | null>;
  /** Takes all items or none, once per idempotency key. */
  take(cmd: TakeCommand): Promise<TakeResult>;
  /** Gives back what an operation took, once, however often it is called. */
  restore(cmd: RestoreCommand): Promise<RestoreResult>;
  /** Makes a hold permanent (a plain take); idempotent. */
  commit(cmd: CommitCommand): Promise<CommitResult>;
  /** Gives back the scope's holds whose time is up (the schedule's sweep); returns how many. */
  expireHolds(prefix: string, now: number): Promise<number>;
  /**
   * Recovery: lists every hold of the scope still standing again (after the store lost the list
   * that finds holds whose time is up); returns how many are listed.
   */
  relistHolds(prefix: string): Promise<number>;
  /** How many holds of the scope stand at `now` (neither committed, given back nor expired). */
  activeHolds(prefix: string, now: number): Promise<number>;
  /** Changes a gauge's total and remain by `delta`, once per `opId`; refused when remain would go below zero. */
  adjust(cmd: AdjustCommand): Promise<AdjustResult>;
  /** Live values, `null` for a missing gauge. The keys of one scope (on Redis Cluster: one slot). */
  read(keys: string[]): Promise<(LiveGauge | null)[]>;
  /**
   * Hands the scope's ledger events that are not yet durable to `write`, oldest first, in
   * batches, and forgets each batch only after `write` resolved. Returns how many were moved.
   * An adapter that writes its ledger durably in the take itself has nothing to drain.
   */
  drain(prefix: string, write: (events: LedgerEvent[]) => Promise<void>): Promise<number>;
  /**
   * One round of the elected drainer (a gauge that hands out `DrainDuty`): drains as `drain`
   * does while `duty` holds the scope's lease, renewing it with every read; `last` gives the
   * lease up with the round's read. Events are forgotten only after `write` resolved.
   */
  drainElected?(prefix: string, write: (events: LedgerEvent[]) => Promise<void>, duty: DrainDuty & { last?: boolean }): Promise<DrainRound>;
  /**
   * Deletes every gauge, operation, idempotency record and event of a scope. A sealed scope's
   * policy stays as a tombstone, so a rebuild racing the archive cannot bring the scope back.
   * An archived scope (sealed, or `archived` said by the caller when the tombstone itself may be
   * gone) keeps the records that replay its takes until their own time is up: a take whose
   * answer was lost before the archive replays when retried after it.
   */
  drop(prefix: string, options?: { archived?: boolean }): Promise<void>;
  /** Checks the store answers. */
  ping(): Promise<void>;
}
