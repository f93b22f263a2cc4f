/**
 * The issue a flash sale makes, built the way `CouponTakes.issue` builds it, and the exact
 * EVALSHA the Redis gauge sends for it — captured from `RedisGauge.take` itself, so the raw
 * limit runs the same keys and arguments as the adapter and cannot drift from it.
 */
import { createHash } from 'node:crypto';
import { RedisGauge, type RedisClient } from '../src/adapters/redis/redis-gauge.js';
import { TAKE } from '../src/adapters/redis/scripts.js';
import { couponPolicy, unlimitedSpec } from '../src/coupon/coupon.js';
import { issueItems } from '../src/coupon/items.js';
import { currentPeriods } from '../src/coupon/deps.js';
import { couponKeys } from '../src/coupon/keys.js';
import type { GaugePort, TakeCommand } from '../src/stock/gauge.js';

/** SHA-1 of the take script: what EVALSHA names it by. */
export const TAKE_SHA = createHash('sha1').update(TAKE).digest('hex');

/** Any fixed body fingerprint: every request of the bench has a distinct idempotency key. */
const FINGERPRINT = '0123456789abcdef0123456789abcdef';

/** An issue of `couponId` to `userId` under idempotency key `key`, as the service makes it. */
export function issueCommand(couponId: string, userId: string, key: string, opId: string, now = Date.now()): TakeCommand {
  const keys = couponKeys(couponId);
  return {
    prefix: keys.prefix,
    window: 'issue',
    opId,
    idempotencyKey: `issue:bench:${key}`,
    fingerprint: FINGERPRINT,
    items: issueItems(keys, userId, currentPeriods({}, now)),
    ledger: { scope: couponId, kind: 'issue', subject: userId, ref: null, amount: 1 },
    now,
  };
}

/** A flash-sale coupon: an issue stock of `stock`, one per user, open now. */
export async function confirmSaleCoupon(gauge: GaugePort, couponId: string, stock: number): Promise<void> {
  const keys = couponKeys(couponId);
  const spec = unlimitedSpec('bench flash sale', { issueStock: { total: stock }, perUserIssueLimit: 1 });
  await gauge.setPolicy(keys.prefix, couponPolicy({ ...spec, status: 'confirmed', statusVersion: 0 }));
  await gauge.load([{ key: keys.issue, total: stock, remain: stock }]);
}

export interface CapturedScript {
  sha: string;
  keys: string[];
  args: string[];
}

/**
 * The EVALSHA `RedisGauge.take(cmd)` sends. The gauge is handed a recorder in place of the
 * Upstash client; only `createScript(...).exec` is ever reached by `take`, hence the cast.
 */
export async function capturedTake(cmd: TakeCommand): Promise<CapturedScript> {
  let captured: CapturedScript | null = null;
  const recorder = {
    createScript: (source: string) => ({
      exec: async (keys: string[], args: string[]) => {
        if (source === TAKE) captured = { sha: TAKE_SHA, keys, args };
        return ['ok', cmd.opId, 0];
      },
    }),
  };
  await new RedisGauge({ redis: recorder as unknown as RedisClient }).take(cmd);
  if (!captured) throw new Error('RedisGauge.take did not run the take script');
  return captured;
}

/** The command line of that EVALSHA: `EVALSHA sha numkeys keys… args…`. */
export function evalshaArgs(script: CapturedScript): string[] {
  return ['EVALSHA', script.sha, String(script.keys.length), ...script.keys, ...script.args];
}
