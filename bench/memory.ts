/**
 * Memory: what Redis holds per confirmed coupon and per user who holds one. Two views that
 * should agree: MEMORY USAGE of the keys one coupon and one take create (exact, per key), and
 * the growth of used_memory over the many coupons and takes of the scaling phase (which also
 * counts the keyspace's own overhead). Ratios are to a bare counter key — the one-integer
 * gauge of the original design — since memory has no "raw limit" of its own.
 */
import { couponPolicy, unlimitedSpec } from '../src/coupon/coupon.js';
import { couponKeys } from '../src/coupon/keys.js';
import type { GaugePort } from '../src/stock/gauge.js';
import type { Checks, Row } from './model.js';
import { int } from './progress.js';
import type { ScalingFacts } from './scaling.js';
import type { PrivateRedis } from './stack.js';
import { issueCommand } from './take-command.js';

export interface MemoryFacts {
  rows: Row[];
  /** MEMORY USAGE of a bare integer counter, what the ratios are to. */
  bareCounter: number;
}

async function usage(redis: PrivateRedis, key: string): Promise<number> {
  return Number(await redis.resp.send(['MEMORY', 'USAGE', key, 'SAMPLES', '0']));
}

export async function measureMemory(redis: PrivateRedis, gauge: GaugePort, scaling: ScalingFacts, checks: Checks): Promise<MemoryFacts> {
  await redis.resp.send(['FLUSHALL']);
  await redis.resp.send(['SET', 'bench:bare-counter', '1000']);
  const bareCounter = await usage(redis, 'bench:bare-counter');

  const couponId = 'cpn_memory';
  const keys = couponKeys(couponId);
  const spec = unlimitedSpec('memory', { issueStock: { total: 1000 }, useStock: { total: 800 }, perUserIssueLimit: 1 });
  await gauge.setPolicy(keys.prefix, couponPolicy({ ...spec, status: 'confirmed', statusVersion: 0 }));
  await gauge.load([{ key: keys.issue, total: 1000, remain: 1000 }, { key: keys.use, total: 800, remain: 800 }]);
  const couponParts = { policy: keys.prefix + 'policy', 'issue gauge': keys.issue, 'use gauge': keys.use };

  // One real issue: the user's counters, the operation record kept for cancels, the idempotency record.
  const user = 'u-0001234567';
  const cmd = issueCommand(couponId, user, 'memory-1', 'iss_01jbenchmemory000000000000');
  const taken = await gauge.take(cmd);
  checks.expect(taken.ok, 'memory: the sample take was refused');
  const userParts = {
    'issue counter': keys.userIssue(user),
    'held counter': keys.unusedIssues(user),
    'operation record': `${keys.prefix}o:${cmd.opId}`,
    'idempotency record': `${keys.prefix}i:${cmd.idempotencyKey}`,
  };

  const measured = async (parts: Record<string, string>) => {
    const sizes = await Promise.all(Object.values(parts).map((k) => usage(redis, k)));
    checks.expect(sizes.every((s) => s > 0), `memory: a key is missing among ${Object.values(parts).join(', ')}`);
    const text = Object.keys(parts).map((name, i) => `${name} ${int(sizes[i] ?? 0)}`).join(' + ');
    return { total: sizes.reduce((a, b) => a + b, 0), text };
  };
  const coupon = await measured(couponParts);
  const holder = await measured(userParts);
  await redis.resp.send(['FLUSHALL']);

  return {
    bareCounter,
    rows: [
      {
        id: 'mem-coupon',
        section: 'memory',
        what: 'Redis bytes per confirmed coupon',
        concurrency: null,
        perSecond: null,
        latency: null,
        bytes: scaling.bytesPerCoupon,
        detail: `${int(scaling.bytesPerCoupon)} B each (used_memory growth); MEMORY USAGE: ${coupon.text} = ${int(coupon.total)} B`,
      },
      {
        id: 'mem-user',
        section: 'memory',
        what: 'Redis bytes per user holding a coupon',
        concurrency: null,
        perSecond: null,
        latency: null,
        bytes: scaling.bytesPerUserDrained,
        detail:
          `${int(scaling.bytesPerUserDrained)} B each once drained, ${int(scaling.bytesPerUser)} B before (used_memory growth); ` +
          `MEMORY USAGE: ${holder.text} = ${int(holder.total)} B`,
      },
    ],
  };
}
