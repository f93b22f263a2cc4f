/**
 * The coupon's side of the sold-out memo (`src/stock/sold-out-memo.ts`): which items of a take it
 * may answer for, and what a gauge's answer teaches it. Only the coupon's shared gauges — its
 * issue stock, its use stock and its budget — are ever remembered short: never a per-user
 * counter, a user's unused issues or a period's cap (those are the user's own, or start again
 * with the next period). A take is answered from memory only when the client sent no
 * Idempotency-Key (why: `docs/guarantees.md`, "sold-out memo").
 */
import type { TakeResult } from '../stock/gauge.js';
import { forgetfulGauge } from '../stock/forgetful-gauge.js';
import { SoldOutMemo, type Ticket } from '../stock/sold-out-memo.js';
import type { CouponDeps } from './deps.js';
import type { ItemLimit, TakeItem } from './items.js';

/** The limits of gauges every user of a coupon shares: the only ones remembered short. */
const SHARED: ReadonlySet<ItemLimit> = new Set<ItemLimit>(['issue', 'use', 'budget']);

const shared = (item: TakeItem): boolean => SHARED.has(item.limit);

/**
 * The index of the first item of a take that the memo knows is short (a shared gauge with less
 * left than the item takes), or -1: the take must ask the gauge.
 */
export function rememberedShortfall(memo: SoldOutMemo, prefix: string, items: readonly TakeItem[], at: number): number {
  return memo.short(prefix, items.map((item) => (shared(item) ? item : { key: item.key, n: 0 })), at);
}

/**
 * Learns from a gauge's answer to a take sent with `ticket`: a shared item that fell short, or
 * the remains a take that went through left (a replay's remains are the first take's, old news).
 */
export function learnTake(memo: SoldOutMemo, prefix: string, items: readonly TakeItem[], result: TakeResult, ticket: Ticket): void {
  if (result.ok) {
    if (result.replayed) return;
    items.forEach((item, i) => {
      const remain = result.remains[i];
      if (shared(item) && item.n > 0 && typeof remain === 'number') memo.learnRemain(prefix, item.key, remain, ticket);
    });
    return;
  }
  if (result.reason !== 'insufficient') return;
  const item = items[result.index];
  if (item && shared(item)) memo.learnShort(prefix, item.key, item.n, ticket);
}

/**
 * Gives the coupon services a sold-out memo of `windowMs` (0: none): the memo, and the gauges
 * wrapped so that every restore, adjust or hold give-back made through them forgets at once what
 * was learned about that coupon. Call once per deps object, before the services are built; the
 * memo may be shared by many deps objects (a Worker isolate's requests).
 */
export function useSoldOutMemo(deps: CouponDeps, memo: SoldOutMemo | null): void {
  if (!memo) return;
  deps.soldOut = memo;
  deps.gauges = forgetfulGauge(deps.gauges, memo);
}

/** A memo of `windowMs`, `null` for a window of 0 (the memo is off). */
export const soldOutMemo = (windowMs: number): SoldOutMemo | null => (windowMs > 0 ? new SoldOutMemo({ windowMs }) : null);
