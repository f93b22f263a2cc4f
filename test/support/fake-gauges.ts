/**
 * A fake gauge port for *unit* tests of the coupon domain's decisions (what a take sends, what a
 * gauge's answer becomes). It runs no Lua and keeps no stock: each test says what the gauge
 * answers. Anything that runs a script is tested against a real Redis or Postgres instead.
 */
import type { CouponDeps } from '../../src/coupon/deps.js';
import type { CouponRecord } from '../../src/coupon/coupon.js';
import type { RestoreCommand, RestoreResult, TakeCommand, TakeResult } from '../../src/stock/gauge.js';

/** An object whose listed methods are `impl`'s; any other member throws when called, naming itself. */
export function partial<T extends object>(impl: Partial<T>, name: string): T {
  return new Proxy(impl, {
    get: (target, prop) =>
      prop in target
        ? (target as Record<PropertyKey, unknown>)[prop]
        : () => {
            throw new Error(`${name}.${String(prop)} is not used by this test`);
          },
  }) as T;
}

export interface FakeGauges {
  deps: CouponDeps;
  /** Every take command the domain sent. */
  takes: TakeCommand[];
  restores: RestoreCommand[];
  /** Coupons whose gauge changed (`onLedgerEvent`). */
  changed: string[];
}

/** Deps whose gauge answers takes with `answer(cmd)` and restores with `restored(cmd)`. */
export function fakeGauges(options: {
  answer?: (cmd: TakeCommand) => TakeResult | Promise<TakeResult>;
  restored?: (cmd: RestoreCommand) => RestoreResult;
  coupon?: Partial<CouponRecord> | null;
}): FakeGauges {
  const takes: TakeCommand[] = [];
  const restores: RestoreCommand[] = [];
  const changed: string[] = [];
  const coupon = options.coupon === undefined ? null : options.coupon;
  const deps: CouponDeps = {
    gauges: partial<CouponDeps['gauges']>(
      {
        name: 'redis',
        take: async (cmd) => {
          takes.push(cmd);
          return (options.answer ?? (() => ({ ok: false, reason: 'unavailable' }) as const))(cmd);
        },
        restore: async (cmd) => {
          restores.push(cmd);
          return (options.restored ?? (() => ({ ok: false, reason: 'not_found' }) as const))(cmd);
        },
        drain: async () => 0,
      },
      'gauges',
    ),
    coupons: partial<CouponDeps['coupons']>({ get: async (id) => (coupon ? ({ id, ...coupon } as CouponRecord) : null) }, 'coupons'),
    ledger: partial<CouponDeps['ledger']>({ append: async () => undefined, operation: async () => null }, 'ledger'),
    clock: () => Date.parse('2026-12-02T10:00:00Z'),
    onLedgerEvent: (couponId) => changed.push(couponId),
  };
  return { deps, takes, restores, changed };
}

/** A take's success: the remain of each item, by the limit it enforces (absent: unlimited). */
export function tookWith(remains: Record<string, number>, extra: Partial<Extract<TakeResult, { ok: true }>> = {}) {
  return (cmd: TakeCommand): TakeResult => ({
    ok: true,
    opId: cmd.opId,
    remains: cmd.items.map((item) => remains[item.limit] ?? null),
    replayed: false,
    holdExpiresAt: null,
    ...extra,
  });
}

/** A shortfall of the item that enforces `limit`, at whatever place the domain put it. */
export function shortOf(limit: string) {
  return (cmd: TakeCommand): TakeResult => {
    const index = cmd.items.findIndex((item) => item.limit === limit);
    if (index < 0) throw new Error(`the take sent no item for ${limit}`);
    return { ok: false, reason: 'insufficient', index };
  };
}

/** Every limit a take can fall short on, and the code it answers. */
export const SHORTFALL_CASES = [
  { kind: 'issue', limit: 'issue', code: 'SOLD_OUT' },
  { kind: 'issue', limit: 'perUserIssue', code: 'USER_LIMIT_REACHED' },
  { kind: 'issue', limit: 'issuePerDay', code: 'PERIOD_SOLD_OUT' },
  { kind: 'issue', limit: 'issuePerWeek', code: 'PERIOD_SOLD_OUT' },
  { kind: 'use', limit: 'held', code: 'NOT_ISSUED' },
  { kind: 'use', limit: 'use', code: 'SOLD_OUT' },
  { kind: 'use', limit: 'perUserUse', code: 'USER_LIMIT_REACHED' },
  { kind: 'use', limit: 'usePerDay', code: 'PERIOD_SOLD_OUT' },
  { kind: 'use', limit: 'usePerWeek', code: 'PERIOD_SOLD_OUT' },
  { kind: 'use', limit: 'budget', code: 'BUDGET_EXHAUSTED' },
] as const;
