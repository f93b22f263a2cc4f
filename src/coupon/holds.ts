/**
 * Checkout holds: a use reserved for an order until its time is up, then committed (paid) or
 * given back (released, or expired: the gauge gives it back by itself). A hold is a take of
 * kind `use` made provisional; "hold" means this and nothing else.
 */
import { now, unavailableReason, type CouponDeps } from './deps.js';
import { fail, ok, type Result } from './errors.js';
import { couponKeys } from './keys.js';
import { notAHold, unknownOp, unknownOutcome } from './refusals.js';
import type { TakeOne } from './take-types.js';

/** A checkout's reservation of a use. */
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

export interface Committed {
  id: string;
  couponId: string;
  userId: string;
  ownerId: string | null;
  /** `false` when the hold was committed already (a retry). */
  committed: boolean;
}

/**
 * Reserves a use for a checkout: takes everything a use takes (the use stock, the user's
 * unused issue and use limit, the periods, the budget), provisionally, until `ttlSeconds` pass;
 * then the gauge gives it back by itself unless it was committed. Re-entrant: the same owner
 * (an order) holding again while its hold stands gets that hold back, never "limit reached".
 */
export async function holdUse(deps: CouponDeps, take: TakeOne, input: HoldInput): Promise<Result<Held>> {
  const at = now(deps);
  const key = `${input.userId.length}:${input.userId}:${input.ownerId}`;
  const taken = await take(
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
export async function commitHold(deps: CouponDeps, couponId: string, holdId: string): Promise<Result<Committed>> {
  const keys = couponKeys(couponId);
  const result = await unknownOutcome(() => deps.gauges.commit({ prefix: keys.prefix, opId: holdId, now: now(deps) }));
  if ('code' in result) return result;
  if (result.ok) return ok({ id: holdId, couponId, userId: result.subject, ownerId: result.ref, committed: result.committed });
  if (result.reason === 'expired') {
    deps.onLedgerEvent?.(couponId, result.drain);
    return fail('HOLD_EXPIRED', `hold ${holdId} expired or was released: its stock went back; hold again`);
  }
  if (result.reason === 'unavailable') return unavailableReason(couponId, await deps.coupons.get(couponId));
  if (result.reason === 'sealed') return fail('NOT_ACTIVE', `coupon ${couponId} is archived`);
  if (result.reason === 'not_hold') return notAHold(couponId, holdId);
  return unknownOp(deps, 'hold', couponId, holdId);
}
