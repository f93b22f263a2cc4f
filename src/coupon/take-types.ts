/**
 * The shapes of a take: what it is asked, what it answers, and the one-take function that the
 * bulk issue (`batch.ts`) and the checkout hold (`holds.ts`) are made of. Apart from `takes.ts`
 * so those import the shapes, not the service that uses them.
 */
import type { Failure, Result } from './errors.js';
import type { TakeKind } from './items.js';

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

export interface Cancelled {
  id: string;
  couponId: string;
  userId: string;
  orderId: string | null;
  status: 'cancelled';
  /** The stock left after giving back, `null` when unlimited. */
  remain: number | null;
}

/** How one take is made, beyond its input (a batch item's, a hold's). */
export interface TakeOptions {
  /** The idempotency namespace: a batch item's or a hold's keys never meet a single request's (default: the kind). */
  scope?: string;
  /** Why the gauges are missing (default: ask Postgres). */
  explain?: () => Promise<Failure>;
  /** Makes the take provisional until then. */
  hold?: { expiresAt: number };
  /** Takes sent together with the same value run in the order they were sent (a batch). */
  order?: string;
}

/** One take of `kind`: what a batch and a hold are made of. */
export type TakeOne = (kind: TakeKind, input: TakeInput, options?: TakeOptions) => Promise<Result<Taken>>;
