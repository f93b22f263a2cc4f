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
import type { Failure } from './errors.js';
import type { ItemLimit, TakeItem } from './items.js';

/** The limits of gauges every user of a coupon shares: the only ones remembered short. */
const SHARED: ReadonlySet<ItemLimit> = new Set<ItemLimit>(['issue', 'use', 'budget']);

const shared = (item: TakeItem): boolean => SHARED.has(item.limit);

/** A take's items as the memo's needs: the shared ones as they are, the others as never short. */
const needsOf = (items: readonly TakeItem[]) => items.map((item) => (shared(item) ? item : { key: item.key, n: 0 }));

/**
 * The index of the first item of a take that the memo knows is short (a shared gauge with less
 * left than the item takes), or -1: the take must ask the gauge. A take that finds a fact just
 * run out while the take that asks again is still out waits for that one first (Node host).
 */
export function rememberedShortfall(memo: SoldOutMemo, prefix: string, items: readonly TakeItem[], now: () => number): number | Promise<number> {
  const needs = needsOf(items);
  const at = now();
  const index = memo.short(prefix, needs, at);
  if (index >= 0) return index;
  // Synchronous unless there is a probe to wait for: the hot path awaits nothing more.
  const probe = memo.pending(prefix, needs, at);
  return probe ? probe.then(() => memo.short(prefix, needs, now())) : -1;
}

/** After a take's gauge call: learns from its answer (a failure teaches nothing) and ends any probe of its shared gauges. */
export function afterTake(memo: SoldOutMemo, prefix: string, items: readonly TakeItem[], result: TakeResult | Failure, ticket: Ticket, at: number): void {
  if (!('code' in result)) learnTake(memo, prefix, items, result, ticket);
  memo.settle(prefix, items.filter(shared).map((item) => item.key), at);
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

/**
 * A memo of `windowMs`, `null` for a window of 0 (the memo is off). `shareProbes`: takes may wait
 * for another take's answer (Node host; never on Workers, whose requests must not await what
 * another request resolves).
 */
export const soldOutMemo = (windowMs: number, shareProbes = false): SoldOutMemo | null => (windowMs > 0 ? new SoldOutMemo({ windowMs, shareProbes }) : null);
