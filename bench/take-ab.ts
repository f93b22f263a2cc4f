/**
 * The take script of another checkout against this one's, in one run on one private
 * redis-server: `tsx bench/take-ab.ts <other checkout> [rounds]`. Both scripts get the same
 * keys and arguments (captured from this tree's `RedisGauge.take`; the ARGV layout must be the
 * same in both), rounds alternate A and B, and each run reads Redis' own time per call
 * (`INFO commandstats`, usec_per_call of EVALSHA) beside redis-benchmark's takes/s, on the
 * success path and on the sold-out path. Prints one line per run and the medians.
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
  const results = new Map<string, { success: number[]; soldOut: number[]; rps: number[] }>(variants.map((v) => [v.name, { success: [], soldOut: [], rps: [] }]));
  const usecPerCall = async () => {
    const info = String(await redis.resp.send(['INFO', 'commandstats']));
    return Number(/cmdstat_evalsha:calls=\d+,usec=\d+,usec_per_call=([0-9.]+)/.exec(info)?.[1] ?? NaN);
  };
  const connections = 50;
  for (let round = 1; round <= rounds; round++) {
    for (const v of round % 2 ? variants : [...variants].reverse()) {
      const r = results.get(v.name);
      if (!r) continue;
      for (const [path, stock] of [['success', 2_000_000_000], ['soldOut', 0]] as const) {
        await redis.resp.send(['FLUSHALL']);
        for (const s of variants) await redis.resp.send(['SCRIPT', 'LOAD', s.source]);
        const couponId = `cpn_ab${round}${path}`;
        await confirmSaleCoupon(gauge, couponId, stock);
        const captured = await capturedTake(issueCommand(couponId, 'u__rand_int__', 'k__rand_int__', 'iss___rand_int__'));
        const command = evalshaArgs({ ...captured, sha: sha(v.source) });
        await redis.resp.send(['CONFIG', 'RESETSTAT']);
        const run = await redisBenchmark(redis.port, connections, requests, 1, command);
        const usec = await usecPerCall();
        const taken = Number(await redis.resp.send(['XLEN', couponKeys(couponId).prefix + 'ledger']));
        r[path].push(usec);
        if (path === 'success') r.rps.push(run.perSecond);
        console.log(`round ${round} ${v.name} ${path}: ${usec} µs/take in Redis, ${Math.round(run.perSecond)} takes/s, ${taken} taken`);
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  // On a shared machine a run is only ever slowed down by others: the minimum is the script's
  // own cost, the median what a busy machine gave.
  const min = (xs: number[]) => Math.min(...xs);
  console.log('\nRedis µs per EVALSHA take (median / min over rounds); redis-benchmark takes/s on the success path (median):');
  for (const [name, r] of results) {
    console.log(`${name}: success ${median(r.success)} / ${min(r.success)} µs, sold out ${median(r.soldOut)} / ${min(r.soldOut)} µs, ${Math.round(median(r.rps))} takes/s`);
  }
  const [a, b] = [...results.values()];
  if (a && b) {
    const ratio = (f: (xs: number[]) => number, k: 'success' | 'soldOut') => (f(b[k]) / f(a[k])).toFixed(3);
    console.log(`B / A: success ${ratio(median, 'success')} (min ${ratio(min, 'success')}), sold out ${ratio(median, 'soldOut')} (min ${ratio(min, 'soldOut')})`);
  }
} finally {
  await stack.stopAll();
}
