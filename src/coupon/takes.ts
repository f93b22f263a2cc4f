/**
 * The hot path: issue and use are one gauge call each (status, windows, stocks, per-user
 * limits and idempotency checked together); Postgres is read only to explain a refusal the
 * gauges could not (a missing policy).
 */
import type { TakeRefusal } from '../stock/gauge.js';
import { fail, ok, type Failure, type Result } from './errors.js';
import { issueItems, STOCK_ITEM, useItems } from './coupon.js';
import { now, unavailableReason, type CouponDeps } from './deps.js';
import { newId } from './ids.js';
import { couponKeys } from './keys.js';

export type TakeKind = 'issue' | 'use';

export interface TakeInput {
  couponId: string;
  userId: string;
  orderId?: string | null;
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
  /** `true` when this is the replay of an earlier answer. */
  replayed: boolean;
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

/** Codes for an `insufficient` refusal, by item index (see `issueItems` / `useItems`). */
const SHORTFALL: Record<TakeKind, readonly Failure['code'][]> = {
  issue: ['SOLD_OUT', 'USER_LIMIT_REACHED', 'INTERNAL'],
  use: ['NOT_ISSUED', 'SOLD_OUT', 'USER_LIMIT_REACHED'],
};

const SHORTFALL_DETAIL: Partial<Record<Failure['code'], string>> = {
  SOLD_OUT: 'the stock is sold out',
  USER_LIMIT_REACHED: 'the user has reached the per-user limit',
  NOT_ISSUED: 'the user holds no issued, unused coupon',
};

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

  private async take(kind: TakeKind, input: TakeInput): Promise<Result<Taken>> {
    const keys = couponKeys(input.couponId);
    const at = now(this.deps);
    const result = await this.unknownOutcome(() => this.deps.gauges.take({
      prefix: keys.prefix,
      window: kind,
      opId: newId(kind === 'issue' ? 'iss' : 'use', at),
      idempotencyKey: `${kind}:${input.caller}:${input.idempotencyKey ?? `none:${crypto.randomUUID()}`}`,
      fingerprint: input.fingerprint,
      items: kind === 'issue' ? issueItems(keys, input.userId) : useItems(keys, input.userId),
      ledger: { scope: input.couponId, kind, subject: input.userId, ref: input.orderId ?? null, amount: 1 },
      now: at,
    }));
    if ('code' in result) return result;
    if (result.ok) {
      if (!result.replayed) this.deps.onTaken?.(input.couponId);
      const remain = result.remains[STOCK_ITEM[kind]] ?? null;
      return ok({ id: result.opId, couponId: input.couponId, userId: input.userId, remain, replayed: result.replayed });
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
    }
  }

  private async cancel(kind: TakeKind, couponId: string, opId: string): Promise<Result<Cancelled>> {
    const keys = couponKeys(couponId);
    const result = await this.unknownOutcome(() => this.deps.gauges.restore({ prefix: keys.prefix, opId, kind, now: now(this.deps) }));
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
      case 'not_found': {
        const coupon = await this.deps.coupons.get(couponId);
        if (coupon?.status === 'archived') return unavailableReason(couponId, coupon);
        return fail('NOT_FOUND', `${kind} ${opId} of coupon ${couponId} does not exist`);
      }
      case 'unavailable':
        return unavailableReason(couponId, await this.deps.coupons.get(couponId));
      case 'insufficient':
        return fail('ALREADY_USED', `${kind} ${opId} was already used; cancel the use first`);
    }
  }
}
