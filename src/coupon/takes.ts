/**
 * The hot path: issue and use are one gauge call each (status, windows, stocks, per-user
 * limits and idempotency checked together); Postgres is read only to explain a refusal the
 * gauges could not (a missing policy).
 */
import type { TakeRefusal } from '../stock/gauge.js';
import { PERIODS } from '../stock/periods.js';
import { fail, ok, type Failure, type Result } from './errors.js';
import { BUDGET_ITEM, issueItems, PERIOD_ITEM, STOCK_ITEM, useItems } from './coupon.js';
import { currentPeriods, now, unavailableReason, type CouponDeps } from './deps.js';
import { newId } from './ids.js';
import { couponKeys } from './keys.js';

export type TakeKind = 'issue' | 'use';

export interface TakeInput {
  couponId: string;
  userId: string;
  orderId?: string | null;
  /** A use's discount in minor units, taken from the coupon's budget (`null`: not stated). */
  discountAmount?: number | null;
  /** The client's `Idempotency-Key`, or `null` when it sent none (then a retry may take again). */
  idempotencyKey: string | null;
  /** Who the key belongs to (a hash of the caller's token): keys are scoped per caller. */
  caller: string;
  /** Fingerprint of the request body; the same key with another body is refused. */
  fingerprint: string;
}

export interface Taken {
  id: string;
  couponId: string;
  userId: string;
  /** The stock left after this take, `null` when unlimited. */
  remain: number | null;
  /** The budget left after a use (minor units), `null` without a budget. */
  budgetRemain: number | null;
  /** `true` when this is the replay of an earlier answer. */
  replayed: boolean;
  /** A hold's expiry, `null` for a plain take. */
  holdExpiresAt: number | null;
}

/** A checkout's reservation of a use (`hold`). */
export interface HoldInput {
  couponId: string;
  userId: string;
  /** Who holds: an order, a cart. The same owner holding again gets its own hold back. */
  ownerId: string;
  ttlSeconds: number;
  discountAmount?: number;
  caller: string;
}

export interface Held {
  id: string;
  couponId: string;
  userId: string;
  ownerId: string;
  remain: number | null;
  budgetRemain: number | null;
  replayed: boolean;
  expiresAt: Date;
}

export interface Cancelled {
  id: string;
  couponId: string;
  userId: string;
  orderId: string | null;
  status: 'cancelled';
  /** The stock left after giving back, `null` when unlimited. */
  remain: number | null;
}

/** A bulk issue: one coupon to many users (`issueBatch`). */
export interface BatchInput {
  couponId: string;
  userIds: readonly string[];
  /** The request's `Idempotency-Key`: with it each item is done once (see `batchKey`). */
  idempotencyKey: string | null;
  caller: string;
}

/** One user's outcome in a bulk issue, in the order of the request. */
export type BatchItem =
  | { userId: string; ok: true; issueId: string; remain: number | null; replayed: boolean }
  | { userId: string; ok: false; code: Failure['code']; detail: string };

/** Most users in one bulk issue. */
export const MAX_BATCH = 1_000;
/**
 * Takes sent together: on the Worker the Upstash client pipelines the calls made in one tick,
 * on Node the coalescer those of one turn, so each chunk is one round trip to Redis.
 */
export const BATCH_CHUNK = 100;

/** Refusals that belong to the coupon, not to an item: if every item has one, the batch as a whole has it. */
const COUPON_LEVEL: readonly Failure['code'][] = ['NOT_FOUND', 'NOT_ACTIVE', 'STOCK_UNAVAILABLE'];

/**
 * The idempotency key of item `occurrence` of `userId` in a batch sent with `key`: a retry of
 * the batch, or of any part of it, with the same key replays what was done and runs the rest.
 * Lengths make it unambiguous whatever the key and the user id contain.
 */
const batchKey = (key: string, userId: string, occurrence: number) => `${key.length}:${key}:${occurrence}:${userId}`;

/** Codes for an `insufficient` refusal, by item index (see `issueItems` / `useItems`). */
const SHORTFALL: Record<TakeKind, readonly Failure['code'][]> = {
  issue: ['SOLD_OUT', 'USER_LIMIT_REACHED', 'INTERNAL'],
  use: ['NOT_ISSUED', 'SOLD_OUT', 'USER_LIMIT_REACHED', 'PERIOD_SOLD_OUT', 'PERIOD_SOLD_OUT', 'BUDGET_EXHAUSTED'],
};

const SHORTFALL_DETAIL: Partial<Record<Failure['code'], string>> = {
  SOLD_OUT: 'the stock is sold out',
  USER_LIMIT_REACHED: 'the user has reached the per-user limit',
  NOT_ISSUED: 'the user holds no issued, unused coupon',
  BUDGET_EXHAUSTED: 'what is left of the budget cannot cover this discount',
};

interface TakeOptions {
  scope?: string;
  explain?: () => Promise<Failure>;
  hold?: { expiresAt: number };
}

/** A batch item's key already names its user, its whole request: every item has one fingerprint. */
const BATCH_FINGERPRINT = 'batch-item';

export class CouponTakes {
  constructor(private readonly deps: CouponDeps) {}

  /** Issues the coupon to a user. */
  issue(input: TakeInput): Promise<Result<Taken>> {
    return this.take('issue', input);
  }

  /** Redeems the coupon for a user. */
  use(input: TakeInput): Promise<Result<Taken>> {
    return this.take('use', input);
  }

  /** Gives back what an issue took; refused once the coupon it gave was used. */
  cancelIssue(couponId: string, issueId: string): Promise<Result<Cancelled>> {
    return this.cancel('issue', couponId, issueId);
  }

  /** Gives back what a use took (the order was cancelled); the user holds the coupon again. */
  cancelUse(couponId: string, useId: string): Promise<Result<Cancelled>> {
    return this.cancel('use', couponId, useId);
  }

  /**
   * Issues the coupon to each user, in chunks of `BATCH_CHUNK` takes sent together; every item
   * is its own all-or-nothing take with its own answer. Refused as a whole only when every item
   * was refused for a reason of the coupon's (unknown, not active, stock unavailable).
   */
  async issueBatch(input: BatchInput): Promise<Result<BatchItem[]>> {
    const seen = new Map<string, number>();
    let explained: Promise<Failure> | null = null;
    // Why the gauges are missing is the same for every item: Postgres is asked once.
    const explain = () => (explained ??= this.deps.coupons.get(input.couponId).then((c) => unavailableReason(input.couponId, c)));
    const items: BatchItem[] = [];
    for (let i = 0; i < input.userIds.length; i += BATCH_CHUNK) {
      const chunk = input.userIds.slice(i, i + BATCH_CHUNK).map((userId) => {
        const occurrence = seen.get(userId) ?? 0;
        seen.set(userId, occurrence + 1);
        const key = input.idempotencyKey === null ? null : batchKey(input.idempotencyKey, userId, occurrence);
        return { userId, key };
      });
      const results = await Promise.all(
        chunk.map(({ userId, key }) =>
          this.take('issue', { couponId: input.couponId, userId, idempotencyKey: key, caller: input.caller, fingerprint: BATCH_FINGERPRINT }, { scope: 'issue-batch', explain }),
        ),
      );
      results.forEach((r, j) => {
        const userId = chunk[j]?.userId ?? '';
        items.push(r.ok ? { userId, ok: true, issueId: r.value.id, remain: r.value.remain, replayed: r.value.replayed } : { userId, ok: false, code: r.code, detail: r.detail });
      });
    }
    const [first] = items;
    if (first && !first.ok && COUPON_LEVEL.includes(first.code) && items.every((it) => !it.ok && it.code === first.code)) {
      return fail(first.code, first.detail);
    }
    return ok(items);
  }

  /**
   * One take. `scope` names the idempotency namespace (a batch item's or a hold's keys never
   * meet a single request's); `explain` says why the gauges are missing (by default: ask
   * Postgres); `hold` makes it provisional until then.
   */
  private async take(kind: TakeKind, input: TakeInput, options: TakeOptions = {}): Promise<Result<Taken>> {
    const { scope = kind, explain, hold } = options;
    const keys = couponKeys(input.couponId);
    const at = now(this.deps);
    const periods = currentPeriods(this.deps, at);
    const result = await this.unknownOutcome(() => this.deps.gauges.take({
      prefix: keys.prefix,
      window: kind,
      opId: newId(kind === 'issue' ? 'iss' : 'use', at),
      idempotencyKey: `${scope}:${input.caller}:${input.idempotencyKey ?? `none:${crypto.randomUUID()}`}`,
      fingerprint: input.fingerprint,
      items: kind === 'issue' ? issueItems(keys, input.userId, periods) : useItems(keys, input.userId, periods, input.discountAmount ?? null),
      ledger: { scope: input.couponId, kind, subject: input.userId, ref: input.orderId ?? null, amount: 1, value: input.discountAmount ?? null },
      now: at,
      ...(hold ? { hold } : {}),
    }));
    if ('code' in result) return result;
    if (result.ok) {
      if (!result.replayed) this.deps.onTaken?.(input.couponId);
      const remain = result.remains[STOCK_ITEM[kind]] ?? null;
      const budgetRemain = kind === 'use' ? (result.remains[BUDGET_ITEM] ?? null) : null;
      return ok({ id: result.opId, couponId: input.couponId, userId: input.userId, remain, budgetRemain, replayed: result.replayed, holdExpiresAt: result.holdExpiresAt });
    }
    if (result.reason === 'unavailable' && explain) return explain();
    if (result.reason === 'insufficient' && result.index >= PERIOD_ITEM && result.index < PERIOD_ITEM + PERIODS.length) {
      const w = PERIODS[result.index - PERIOD_ITEM] === 'week' ? periods.week : periods.day;
      return fail('PERIOD_SOLD_OUT', `the ${kind} stock of this ${w.period} (${w.label}) is sold out; it starts again at ${new Date(w.end).toISOString()}`);
    }
    return this.refusal(kind, input.couponId, result);
  }

  /**
   * A gauge call that failed in transport (the store unreachable, an error or a timeout after
   * it may have run) has an unknown outcome: answer 503 and let the client retry with the same
   * Idempotency-Key, which replays the take if it happened and runs it if it did not.
   */
  private async unknownOutcome<T>(call: () => Promise<T>): Promise<T | Failure> {
    try {
      return await call();
    } catch {
      return fail('STOCK_UNAVAILABLE', 'the live stock could not be reached; retry with the same Idempotency-Key');
    }
  }

  private async refusal(kind: TakeKind, couponId: string, refusal: TakeRefusal): Promise<Failure> {
    switch (refusal.reason) {
      case 'unavailable':
        return unavailableReason(couponId, await this.deps.coupons.get(couponId));
      case 'closed':
        return fail('NOT_ACTIVE', `coupon ${couponId} is paused`);
      case 'sealed':
        return fail('NOT_ACTIVE', `coupon ${couponId} is archived`);
      case 'unsettled':
        return fail('STOCK_UNAVAILABLE', 'holds whose time is up are still being given back; retry with the same Idempotency-Key');
      case 'not_started':
        return fail('NOT_ACTIVE', `the ${kind} window of coupon ${couponId} has not started`);
      case 'ended':
        return fail('NOT_ACTIVE', `the ${kind} window of coupon ${couponId} has ended`);
      case 'conflict':
        return fail('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request body');
      case 'insufficient': {
        const code = SHORTFALL[kind][refusal.index] ?? 'INTERNAL';
        return fail(code, SHORTFALL_DETAIL[code] ?? 'the take was refused');
      }
      case 'unstated': {
        // Only the budget item can go unstated: the use did not say what discount it gives.
        const problem = { path: 'body.discountAmount', message: 'required: this coupon has a budget, so a use must say what discount it gives (minor units)' };
        return fail('VALIDATION_FAILED', `${problem.path}: ${problem.message}`, [problem]);
      }
    }
  }

  /**
   * Reserves a use for a checkout: takes everything a use takes (the use stock, the user's held
   * coupon and use limit, the periods, the budget), provisionally, until `ttlSeconds` pass; then
   * the gauge gives it back by itself unless it was committed. Re-entrant: the same owner (an
   * order) holding again while its hold stands gets that hold back, never "limit reached".
   */
  async hold(input: HoldInput): Promise<Result<Held>> {
    const at = now(this.deps);
    const key = `${input.userId.length}:${input.userId}:${input.ownerId}`;
    const taken = await this.take(
      'use',
      {
        couponId: input.couponId,
        userId: input.userId,
        orderId: input.ownerId,
        ...(input.discountAmount === undefined ? {} : { discountAmount: input.discountAmount }),
        idempotencyKey: key,
        caller: input.caller,
        fingerprint: `hold:${input.discountAmount ?? ''}`,
      },
      { scope: 'hold', hold: { expiresAt: at + input.ttlSeconds * 1000 } },
    );
    if (!taken.ok) {
      if (taken.code === 'IDEMPOTENCY_KEY_REUSED') return fail('IDEMPOTENCY_KEY_REUSED', 'this owner holds the coupon already, with another discountAmount; release it first');
      return taken;
    }
    const { id, couponId, userId, remain, budgetRemain, replayed, holdExpiresAt } = taken.value;
    return ok({ id, couponId, userId, ownerId: input.ownerId, remain, budgetRemain, replayed, expiresAt: new Date(holdExpiresAt ?? at + input.ttlSeconds * 1000) });
  }

  /** Turns a hold into a use for good (the order was paid); idempotent. */
  async commitHold(couponId: string, holdId: string): Promise<Result<{ id: string; couponId: string; userId: string; ownerId: string | null; committed: boolean }>> {
    const keys = couponKeys(couponId);
    const result = await this.unknownOutcome(() => this.deps.gauges.commit({ prefix: keys.prefix, opId: holdId, now: now(this.deps) }));
    if ('code' in result) return result;
    if (result.ok) return ok({ id: holdId, couponId, userId: result.subject, ownerId: result.ref, committed: result.committed });
    if (result.reason === 'expired') {
      this.deps.onTaken?.(couponId);
      return fail('HOLD_EXPIRED', `hold ${holdId} expired or was released: its stock went back; hold again`);
    }
    if (result.reason === 'unavailable') return unavailableReason(couponId, await this.deps.coupons.get(couponId));
    if (result.reason === 'sealed') return fail('NOT_ACTIVE', `coupon ${couponId} is archived`);
    if (result.reason === 'not_hold') return notAHold(couponId, holdId);
    return this.unknownOp('hold', couponId, holdId);
  }

  /** Gives a hold back before its time (the checkout was abandoned); once, however often called. */
  releaseHold(couponId: string, holdId: string): Promise<Result<Cancelled>> {
    return this.cancel('use', couponId, holdId, 'hold');
  }

  /**
   * The gauge has no record of the operation. It may never have existed (404), or its live
   * record may be lost (a key evicted or lost in a failover) while the ledger holds its take:
   * that is not "does not exist" — it fails closed, 503, and is never given back from a guess.
   */
  private async unknownOp(kind: string, couponId: string, opId: string): Promise<Failure> {
    const coupon = await this.deps.coupons.get(couponId);
    if (coupon?.status === 'archived') return unavailableReason(couponId, coupon);
    if (coupon) {
      // Events still waiting in the gauge's stream first, so a fresh take is known too.
      await this.deps.gauges.drain(couponKeys(couponId).prefix, (events) => this.deps.ledger.append(events)).catch(() => 0);
      const known = await this.deps.ledger.operation(couponId, opId);
      if (known && known.kind === (kind === 'hold' ? 'use' : kind)) {
        return fail(
          'STOCK_UNAVAILABLE',
          `the live record of ${kind} ${opId} was lost by the store; the ledger has it${known.restored ? ' given back' : ''}, but it cannot be given back from the ledger: adjust the stock by hand`,
        );
      }
    }
    return fail('NOT_FOUND', `${kind} ${opId} of coupon ${couponId} does not exist`);
  }

  private async cancel(kind: TakeKind, couponId: string, opId: string, mode: 'any' | 'hold' = 'any'): Promise<Result<Cancelled>> {
    const keys = couponKeys(couponId);
    const result = await this.unknownOutcome(() => this.deps.gauges.restore({ prefix: keys.prefix, opId, kind, now: now(this.deps), mode }));
    if ('code' in result) return result;
    if (result.ok) {
      if (result.restored) this.deps.onTaken?.(couponId);
      return ok({
        id: opId,
        couponId,
        userId: result.op.subject,
        orderId: result.op.ref,
        status: 'cancelled',
        remain: result.remains[STOCK_ITEM[kind]] ?? null,
      });
    }
    switch (result.reason) {
      case 'not_found':
        return this.unknownOp(mode === 'hold' ? 'hold' : kind, couponId, opId);
      case 'not_hold':
        return notAHold(couponId, opId);
      case 'unavailable':
        return unavailableReason(couponId, await this.deps.coupons.get(couponId));
      case 'sealed':
        return fail('NOT_ACTIVE', `coupon ${couponId} is archived`);
      case 'committed':
        return fail('ALREADY_USED', `hold ${opId} was committed: it is a use now; cancel the use instead`);
      case 'insufficient':
        return fail('ALREADY_USED', `${kind} ${opId} was already used; cancel the use first`);
    }
  }
}

/** A commit or release of a plain take: it exists, but there is no hold by that id (404, never "lost"). */
function notAHold(couponId: string, opId: string): Failure {
  return fail('NOT_FOUND', `${opId} of coupon ${couponId} is not a hold`);
}
