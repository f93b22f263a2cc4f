/**
 * The take script of another checkout against this one's, in one run on one private
 * redis-server: `tsx bench/take-ab.ts <other checkout> [rounds]`. Both scripts get the same
 * keys and arguments (captured from this tree's `RedisGauge.take`; the ARGV layout must be the
 * same in both); each round runs A and B back to back, in turn first, and reads Redis' own time
 * per call (`INFO commandstats`, usec_per_call of EVALSHA), on the success path and on the
 * sold-out path. Prints each round and the median per-round ratio B/A, which cancels the load
 * other processes put on a shared machine better than raw figures do.
 */
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { redisClient, RedisGauge } from '../src/adapters/redis/redis-gauge.js';
import { TAKE } from '../src/adapters/redis/scripts.js';
import { couponKeys } from '../src/coupon/keys.js';
import { redisBenchmark } from './raw.js';
import { startRedis, startRest, Stack } from './stack.js';
import { capturedTake, confirmSaleCoupon, evalshaArgs, issueCommand } from './take-command.js';

const other = process.argv[2];
if (!other) throw new Error('usage: tsx bench/take-ab.ts <other checkout> [rounds] [requests per run]');
const rounds = Number(process.argv[3] ?? 5);
const requests = Number(process.argv[4] ?? 100_000);
const { TAKE: OTHER_TAKE } = (await import(join(resolve(other), 'src/adapters/redis/scripts.ts'))) as { TAKE: string };
const sha = (source: string) => createHash('sha1').update(source).digest('hex');
const variants = [
  { name: `A ${other}`, source: OTHER_TAKE },
  { name: 'B this tree', source: TAKE },
];

const stack = new Stack();
try {
  const redis = await startRedis(stack);
  const rest = await startRest(stack, redis);
  const gauge = new RedisGauge({ redis: redisClient({ url: rest.url, token: rest.token, retries: 0 }) });
  const usecPerCall = async () => {
    const info = String(await redis.resp.send(['INFO', 'commandstats']));
    return Number(/cmdstat_evalsha:calls=\d+,usec=\d+,usec_per_call=([0-9.]+)/.exec(info)?.[1] ?? NaN);
  };
  const connections = 10;
  // One run of `v` on `path`: a fresh coupon, `requests` takes, Redis' own µs per take.
  const run = async (v: (typeof variants)[number], path: 'success' | 'soldOut', id: string) => {
    const couponId = `cpn_ab${id}`;
    await confirmSaleCoupon(gauge, couponId, path === 'success' ? 2_000_000_000 : 0);
    const captured = await capturedTake(issueCommand(couponId, 'u__rand_int__', 'k__rand_int__', 'iss___rand_int__'));
    await redis.resp.send(['CONFIG', 'RESETSTAT']);
    await redisBenchmark(redis.port, connections, requests, 1, evalshaArgs({ ...captured, sha: sha(v.source) }));
    const usec = await usecPerCall();
    const taken = Number(await redis.resp.send(['XLEN', couponKeys(couponId).prefix + 'ledger']));
    if (path === 'success' ? taken < requests * 0.99 : taken !== 0) throw new Error(`${v.name} ${path}: ${taken} of ${requests} taken`);
    return usec;
  };
  // Each round runs A and B back to back (in turn first), so both see the same load: the
  // per-round ratio B/A cancels what other processes do to the machine, the raw µs do not.
  const [a, b] = variants;
  if (!a || !b) throw new Error('two variants');
  const out = { success: { a: [] as number[], b: [] as number[], ratio: [] as number[] }, soldOut: { a: [] as number[], b: [] as number[], ratio: [] as number[] } };
  for (let round = 1; round <= rounds; round++) {
    await redis.resp.send(['FLUSHALL']);
    for (const v of variants) await redis.resp.send(['SCRIPT', 'LOAD', v.source]);
    for (const path of ['success', 'soldOut'] as const) {
      const first = round % 2 ? a : b;
      const second = first === a ? b : a;
      const x = await run(first, path, `${round}${path}1`);
      const y = await run(second, path, `${round}${path}2`);
      const [ua, ub] = first === a ? [x, y] : [y, x];
      out[path].a.push(ua);
      out[path].b.push(ub);
      out[path].ratio.push(ub / ua);
      console.log(`round ${round} ${path}: A ${ua} µs, B ${ub} µs, B/A ${(ub / ua).toFixed(3)}`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)] ?? NaN;
  const geomean = (xs: number[]) => Math.exp(xs.reduce((sum, x) => sum + Math.log(x), 0) / xs.length);
  console.log(`\nA = ${a.name}, B = ${b.name}; Redis µs per EVALSHA take (INFO commandstats), ${rounds} rounds of ${requests} takes each:`);
  for (const path of ['success', 'soldOut'] as const) {
    const r = out[path];
    console.log(
      `${path}: A median ${median(r.a)} µs (min ${Math.min(...r.a)}), B median ${median(r.b)} µs (min ${Math.min(...r.b)}); ` +
        `B/A per round: median ${median(r.ratio).toFixed(3)}, geometric mean ${geomean(r.ratio).toFixed(3)}`,
    );
  }
} finally {
  await stack.stopAll();
}
