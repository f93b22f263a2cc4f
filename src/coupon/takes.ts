/**
 * The hot path: issue and use are one gauge call each (status, windows, stocks, per-user
 * limits and idempotency checked together); Postgres is read only to explain a refusal the
 * gauges could not (a missing policy). Bulk issues: `batch.ts`; checkout holds: `holds.ts`.
 */
import { issueBatch, type BatchInput, type BatchItem } from './batch.js';
import { currentPeriods, now, unavailableReason, type CouponDeps } from './deps.js';
import { fail, ok, type Result } from './errors.js';
import { commitHold, holdUse, type Committed, type HoldInput, type Held } from './holds.js';
import { newId } from './ids.js';
import { itemLimits, remainsByLimit, takeItems, type TakeKind } from './items.js';
import { couponKeys } from './keys.js';
import { notAHold, takeRefusal, unknownOp, unknownOutcome } from './refusals.js';
import { afterTake, rememberedShortfall } from './sold-out.js';
import type { Cancelled, TakeInput, TakeOne, TakeOptions, Taken } from './take-types.js';

export class CouponTakes {
  private readonly takeOne: TakeOne = (kind, input, options) => this.take(kind, input, options);

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

  /** Issues the coupon to each user, each its own all-or-nothing take (see `batch.ts`). */
  issueBatch(input: BatchInput): Promise<Result<BatchItem[]>> {
    return issueBatch(this.deps, this.takeOne, input);
  }

  /** Reserves a use for a checkout until `ttlSeconds` pass (see `holds.ts`). */
  hold(input: HoldInput): Promise<Result<Held>> {
    return holdUse(this.deps, this.takeOne, input);
  }

  /** Turns a hold into a use for good (the order was paid); idempotent. */
  commitHold(couponId: string, holdId: string): Promise<Result<Committed>> {
    return commitHold(this.deps, couponId, holdId);
  }

  /** Gives a hold back before its time (the checkout was abandoned); once, however often called. */
  releaseHold(couponId: string, holdId: string): Promise<Result<Cancelled>> {
    return this.cancel('use', couponId, holdId, 'hold');
  }

  /** One take: its items, named by the limits they enforce, in one gauge call. */
  private async take(kind: TakeKind, input: TakeInput, options: TakeOptions = {}): Promise<Result<Taken>> {
    const { scope = kind, explain, hold } = options;
    const keys = couponKeys(input.couponId);
    const at = now(this.deps);
    const periods = currentPeriods(this.deps, at);
    const items = takeItems(kind, keys, input.userId, periods, input.discountAmount ?? null);
    const memo = this.deps.soldOut;
    // From memory only without an Idempotency-Key: a keyed retry of a take that went through must
    // replay it, and only the gauge knows whether one did (docs/guarantees.md, sold-out memo).
    if (memo && input.idempotencyKey === null && !hold) {
      const found = rememberedShortfall(memo, keys.prefix, items, () => now(this.deps));
      const index = typeof found === 'number' ? found : await found;
      if (index >= 0) {
        this.deps.onRemembered?.(input.couponId, scope);
        return takeRefusal(this.deps, { kind, couponId: input.couponId, items, periods }, { ok: false, reason: 'insufficient', index });
      }
    }
    const ticket = memo?.ticket(at);
    const result = await unknownOutcome(() => this.deps.gauges.take({
      prefix: keys.prefix,
      window: kind,
      opId: newId(kind === 'issue' ? 'iss' : 'use', at),
      idempotencyKey: `${scope}:${input.caller}:${input.idempotencyKey ?? `none:${crypto.randomUUID()}`}`,
      fingerprint: input.fingerprint,
      items,
      ledger: { scope: input.couponId, kind, subject: input.userId, ref: input.orderId ?? null, amount: 1, value: input.discountAmount ?? null },
      now: at,
      ...(hold ? { hold } : {}),
      ...(options?.order ? { order: options.order } : {}),
    }));
    if (memo && ticket) afterTake(memo, keys.prefix, items, result, ticket, now(this.deps));
    if ('code' in result) return result;
    if (result.ok) {
      if (!result.replayed) this.deps.onLedgerEvent?.(input.couponId, result.drain);
      const remains = remainsByLimit(items, result.remains);
      const budgetRemain = kind === 'use' ? (remains.budget ?? null) : null;
      return ok({ id: result.opId, couponId: input.couponId, userId: input.userId, remain: remains[kind] ?? null, budgetRemain, replayed: result.replayed, holdExpiresAt: result.holdExpiresAt });
    }
    if (result.reason === 'unavailable' && explain) return explain();
    return takeRefusal(this.deps, { kind, couponId: input.couponId, items, periods }, result);
  }

  private async cancel(kind: TakeKind, couponId: string, opId: string, mode: 'any' | 'hold' = 'any'): Promise<Result<Cancelled>> {
    const keys = couponKeys(couponId);
    const result = await unknownOutcome(() => this.deps.gauges.restore({ prefix: keys.prefix, opId, kind, now: now(this.deps), mode }));
    if ('code' in result) return result;
    if (result.ok) {
      if (result.restored) this.deps.onLedgerEvent?.(couponId, result.drain);
      // The gauge answers the remains in the order the take sent its items.
      const remains = remainsByLimit(itemLimits(kind).map((limit) => ({ limit })), result.remains);
      return ok({ id: opId, couponId, userId: result.op.subject, orderId: result.op.ref, status: 'cancelled', remain: remains[kind] ?? null });
    }
    switch (result.reason) {
      case 'not_found':
        return unknownOp(this.deps, mode === 'hold' ? 'hold' : kind, couponId, opId);
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
