/**
 * Scaling: the latency of one take on a hot coupon must not grow with what else Redis holds —
 * 1 coupon vs many confirmed coupons, then 0 vs a million past takes on record. Each sample is
 * sequential takes through the Redis gauge (client-observed latency, HDR percentiles) plus
 * Redis' own time per EVALSHA from INFO commandstats, which no network noise reaches.
 */
import { couponPolicy, unlimitedSpec } from '../src/coupon/coupon.js';
import { couponKeys } from '../src/coupon/keys.js';
import type { GaugePort } from '../src/stock/gauge.js';
import type { Checks, Latency, Row } from './model.js';
import type { BenchOptions } from './options.js';
import { runPool } from './pool.js';
import { int, say, ticker } from './progress.js';
import { randomTakeCommand, redisBenchmark } from './raw.js';
import type { PrivateRedis } from './stack.js';
import { confirmSaleCoupon, issueCommand } from './take-command.js';

const HOT = 'cpn_hot';
const BATCH = 1_000;

interface Sample {
  perSecond: number;
  latency: Latency;
  /** Microseconds Redis spent per EVALSHA. */
  redisMicros: number;
}

/** Bytes Redis holds for data, for deltas. */
export async function usedMemory(redis: PrivateRedis): Promise<number> {
  const info = String(await redis.resp.send(['INFO', 'memory']));
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

async function evalshaMicros(redis: PrivateRedis): Promise<number> {
  const info = String(await redis.resp.send(['INFO', 'commandstats']));
  return Number(/cmdstat_evalsha:calls=\d+,usec=\d+,usec_per_call=([0-9.]+)/.exec(info)?.[1] ?? NaN);
}

const rehashing = async (redis: PrivateRedis) => String(await redis.resp.send(['DEBUG', 'HTSTATS', '0'])).includes('rehashing target');

/**
 * Waits until Redis has finished growing its keyspace's hash tables. A table doubles when it is
 * full (at 2^n keys) and moves its entries over incrementally: every command pays a step, and
 * idle Redis moves only 1 ms' worth every 100 ms, so a 4-million-key table takes minutes to
 * settle. That one-off cost comes with each doubling, not with each key; measuring during it
 * would charge it to the take. Ticking faster (hz 100) while waiting, then back.
 */
async function settle(redis: PrivateRedis): Promise<void> {
  if (!(await rehashing(redis).catch(() => false))) return;
  const hz = await redis.resp.send(['CONFIG', 'GET', 'hz']);
  const previous = Array.isArray(hz) ? String(hz[1]) : '10';
  say('scaling: waiting for Redis to finish growing its hash table');
  await redis.resp.send(['CONFIG', 'SET', 'hz', '100']);
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline && (await rehashing(redis))) await new Promise((r) => setTimeout(r, 200));
  await redis.resp.send(['CONFIG', 'SET', 'hz', previous]);
}

export interface ScalingFacts {
  rows: Row[];
  /** used_memory growth per confirmed coupon (two gauges and the policy). */
  bytesPerCoupon: number;
  /** used_memory growth per issued user, ledger entries still in Redis / drained. */
  bytesPerUser: number;
  bytesPerUserDrained: number;
}

export interface ScalingOptions {
  redis: PrivateRedis;
  gauge: GaugePort;
  options: BenchOptions;
  checks: Checks;
}

export async function measureScaling({ redis, gauge, options, checks }: ScalingOptions): Promise<ScalingFacts> {
  const { coupons, pastTakes, seconds } = options.scaling;
  await redis.resp.send(['FLUSHALL']);
  await confirmSaleCoupon(gauge, HOT, 1_000_000_000);
  let takes = 0;
  const sample = async (label: string, time: number): Promise<Sample> => {
    await settle(redis);
    await redis.resp.send(['CONFIG', 'RESETSTAT']);
    const r = await runPool({
      label: `scaling: ${label}`,
      concurrency: 1,
      seconds: time,
      run: async () => {
        const i = takes++;
        return (await gauge.take(issueCommand(HOT, `s${i}`, `s${i}`, `iss_s${i}`))).ok;
      },
    });
    checks.equal(`scaling, ${label}: refused or failed takes`, r.refused + r.errors, 0);
    return { perSecond: r.perSecond, latency: r.latency, redisMicros: await evalshaMicros(redis) };
  };

  // Every process on the path (this one, the REST endpoint) must be warm before the baseline,
  // or the baseline is the slowest sample and later ones look better than they are.
  say('scaling: warming up the take path');
  await sample('warm-up', seconds * 2);
  say('scaling: 1 coupon, 0 past takes');
  const base = await sample('1 coupon', seconds);

  // Confirmed coupons with an issue stock, a use stock and a per-user limit: one built by the
  // gauge, then copied byte for byte (DUMP/RESTORE) under new ids — fast, and exactly the
  // layout the adapter writes.
  const template = 'cpn_template';
  const keys = couponKeys(template);
  const spec = unlimitedSpec('template', { issueStock: { total: 1000 }, useStock: { total: 800 }, perUserIssueLimit: 1 });
  await gauge.setPolicy(keys.prefix, couponPolicy({ ...spec, status: 'confirmed', statusVersion: 0 }));
  await gauge.load([{ key: keys.issue, total: 1000, remain: 1000 }, { key: keys.use, total: 800, remain: 800 }]);
  const templateKeys = [keys.prefix + 'policy', keys.issue, keys.use];
  const dumps = await Promise.all(templateKeys.map(async (k) => (await redis.resp.send(['DUMP', k])) as Buffer));
  const before = await usedMemory(redis);
  say(`scaling: confirming ${int(coupons)} coupons`);
  let restored = 0;
  for (let start = 0; start < coupons; start += BATCH) {
    const commands: (string | Buffer)[][] = [];
    for (let i = start; i < Math.min(coupons, start + BATCH); i++) {
      const copy = couponKeys(`cpn_c${i}`);
      const names = [copy.prefix + 'policy', copy.issue, copy.use];
      names.forEach((name, k) => commands.push(['RESTORE', name, '0', dumps[k] ?? Buffer.alloc(0)]));
    }
    // Sent without waiting for each reply: the commands go out pipelined on the one connection.
    const replies = await Promise.all(commands.map((c) => redis.resp.send(c)));
    restored += replies.filter((r) => r === 'OK').length;
  }
  const bytesPerCoupon = (await usedMemory(redis)) - before;
  checks.equal('scaling: coupon keys restored', restored, coupons * 3);
  say(`scaling: ${int(coupons)} coupons`);
  const manyCoupons = await sample(`${int(coupons)} coupons`, seconds);

  // Past takes on the hot coupon itself: real takes (redis-benchmark, pipelined), each leaving
  // its user counters, operation record, idempotency record and ledger entry behind.
  const ledger = couponKeys(HOT).prefix + 'ledger';
  const ledgerBefore = Number(await redis.resp.send(['XLEN', ledger]));
  const memBefore = await usedMemory(redis);
  say(`scaling: recording ${int(pastTakes)} past takes on the hot coupon`);
  // redis-benchmark prints nothing until it ends: show the ledger growing instead.
  let seen = 0;
  const stop = ticker(() => {
    void redis.resp.send(['XLEN', ledger]).then((n) => (seen = Number(n) - ledgerBefore));
    return `scaling: ${int(seen)} past takes recorded`;
  }, 2_000);
  await redisBenchmark(redis.port, 50, pastTakes, 32, await randomTakeCommand(HOT)).finally(stop);
  const recorded = Number(await redis.resp.send(['XLEN', ledger])) - ledgerBefore;
  checks.expect(recorded >= pastTakes * 0.99, `scaling: only ${int(recorded)} of ${int(pastTakes)} past takes were recorded`);
  const bytesPerUser = ((await usedMemory(redis)) - memBefore) / recorded;
  say(`scaling: ${int(recorded)} past takes`);
  const manyTakes = await sample(`${int(recorded)} past takes`, seconds);
  // What a user costs once the drain has moved the ledger to Postgres (as it does every 250 ms).
  await redis.resp.send(['XTRIM', ledger, 'MAXLEN', '0']);
  const bytesPerUserDrained = ((await usedMemory(redis)) - memBefore) / recorded;
  await redis.resp.send(['FLUSHALL']);

  const row = (id: string, what: string, s: Sample, against: Sample | null): Row => ({
    id,
    section: 'scaling',
    what,
    concurrency: 1,
    perSecond: s.perSecond,
    latency: s.latency,
    redisMicros: s.redisMicros,
    detail:
      `Redis ${s.redisMicros.toFixed(1)} µs per take` +
      (against ? `; p50 ${pct(s.latency.p50, against.latency.p50)}, Redis time ${pct(s.redisMicros, against.redisMicros)} vs 1 coupon` : ''),
  });
  return {
    rows: [
      row('scale-base', 'take, 1 coupon, 0 past takes', base, null),
      row('scale-coupons', `take, ${int(coupons)} confirmed coupons`, manyCoupons, base),
      row('scale-takes', `take, ${int(coupons)} coupons + ${int(recorded)} past takes`, manyTakes, base),
    ],
    bytesPerCoupon: bytesPerCoupon / coupons,
    bytesPerUser,
    bytesPerUserDrained,
  };
}

/** A change in percent, signed. */
export const pct = (value: number, base: number): string => `${value >= base ? '+' : ''}${(((value - base) / base) * 100).toFixed(1)}%`;
