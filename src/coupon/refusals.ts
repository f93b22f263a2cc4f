/**
 * What a refused or failed gauge call answers. A gauge refuses with a reason, and for a shortfall with the item
 * that fell short; the item is read by the limit it enforces (`items.ts`), and each limit has
 * its code here, so the order the items are sent in can never change which code a refusal gets.
 */
import type { TakeRefusal } from '../stock/gauge.js';
import { UNUSED_ISSUES } from './coupon.js';
import { unavailableReason, type CouponDeps } from './deps.js';
import { fail, type Failure } from './errors.js';
import { couponKeys } from './keys.js';
import { periodOfLimit, type CurrentPeriods, type ItemLimit, type TakeItem, type TakeKind } from './items.js';

/** The code of a take an item's limit refused for want of stock, with its detail (a period's detail is built from the period). */
export const SHORTFALL: Record<ItemLimit, { code: Failure['code']; detail: string }> = {
  issue: { code: 'SOLD_OUT', detail: 'the stock is sold out' },
  use: { code: 'SOLD_OUT', detail: 'the stock is sold out' },
  perUserIssue: { code: 'USER_LIMIT_REACHED', detail: 'the user has reached the per-user limit' },
  perUserUse: { code: 'USER_LIMIT_REACHED', detail: 'the user has reached the per-user limit' },
  [UNUSED_ISSUES]: { code: 'NOT_ISSUED', detail: 'the user holds no issued, unused coupon' },
  budget: { code: 'BUDGET_EXHAUSTED', detail: 'what is left of the budget cannot cover this discount' },
  issuePerDay: { code: 'PERIOD_SOLD_OUT', detail: 'the stock of this period is sold out' },
  issuePerWeek: { code: 'PERIOD_SOLD_OUT', detail: 'the stock of this period is sold out' },
  usePerDay: { code: 'PERIOD_SOLD_OUT', detail: 'the stock of this period is sold out' },
  usePerWeek: { code: 'PERIOD_SOLD_OUT', detail: 'the stock of this period is sold out' },
};

/** A take that `limit` refused for want of stock. */
export function shortfall(kind: TakeKind, limit: ItemLimit, periods: CurrentPeriods): Failure {
  const period = periodOfLimit(limit);
  if (period) {
    const w = periods[period];
    return fail('PERIOD_SOLD_OUT', `the ${kind} stock of this ${w.period} (${w.label}) is sold out; it starts again at ${new Date(w.end).toISOString()}`);
  }
  const { code, detail } = SHORTFALL[limit];
  return fail(code, detail);
}

/** What the take of `items` that the gauge refused with `refusal` answers. */
export async function takeRefusal(
  deps: Pick<CouponDeps, 'coupons'>,
  take: { kind: TakeKind; couponId: string; items: readonly TakeItem[]; periods: CurrentPeriods },
  refusal: TakeRefusal,
): Promise<Failure> {
  const { kind, couponId } = take;
  switch (refusal.reason) {
    case 'unavailable':
      return unavailableReason(couponId, await deps.coupons.get(couponId));
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
      const item = take.items[refusal.index];
      return item ? shortfall(kind, item.limit, take.periods) : fail('INTERNAL', 'the take was refused');
    }
    case 'unstated': {
      // Only the budget item can go unstated: the use did not say what discount it gives.
      const problem = { path: 'body.discountAmount', message: 'required: this coupon has a budget, so a use must say what discount it gives (minor units)' };
      return fail('VALIDATION_FAILED', `${problem.path}: ${problem.message}`, [problem]);
    }
  }
}

/**
 * A gauge call that failed in transport (the store unreachable, an error or a timeout after
 * it may have run) has an unknown outcome: answer 503 and let the client retry with the same
 * Idempotency-Key, which replays the take if it happened and runs it if it did not.
 */
export async function unknownOutcome<T>(call: () => Promise<T>): Promise<T | Failure> {
  try {
    return await call();
  } catch {
    return fail('STOCK_UNAVAILABLE', 'the live stock could not be reached; retry with the same Idempotency-Key');
  }
}

/**
 * The gauge has no record of the operation. It may never have existed (404), or its live
 * record may be lost (a key evicted or lost in a failover) while the ledger holds its take:
 * that is not "does not exist" — it fails closed, 503, and is never given back from a guess.
 */
export async function unknownOp(deps: Pick<CouponDeps, 'coupons' | 'gauges' | 'ledger'>, kind: string, couponId: string, opId: string): Promise<Failure> {
  const coupon = await deps.coupons.get(couponId);
  if (coupon?.status === 'archived') return unavailableReason(couponId, coupon);
  if (coupon) {
    // Events still waiting in the gauge's stream first, so a fresh take is known too.
    await deps.gauges.drain(couponKeys(couponId).prefix, (events) => deps.ledger.append(events)).catch(() => 0);
    const known = await deps.ledger.operation(couponId, opId);
    if (known && known.kind === (kind === 'hold' ? 'use' : kind)) {
      return fail(
        'STOCK_UNAVAILABLE',
        `the live record of ${kind} ${opId} was lost by the store; the ledger has it${known.restored ? ' given back' : ''}, but it cannot be given back from the ledger: adjust the stock by hand`,
      );
    }
  }
  return fail('NOT_FOUND', `${kind} ${opId} of coupon ${couponId} does not exist`);
}

/** A commit or release of a plain take: it exists, but there is no hold by that id (404, never "lost"). */
export function notAHold(couponId: string, opId: string): Failure {
  return fail('NOT_FOUND', `${opId} of coupon ${couponId} is not a hold`);
}
