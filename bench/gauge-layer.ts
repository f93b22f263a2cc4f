/**
 * The gauge layer: takes per second through the gauge adapters, without HTTP in front —
 * `RedisGauge` through the local Upstash REST endpoint (auto-pipelining on, as in production),
 * and `PostgresGauge` on PGlite and on a real PostgreSQL. Same concurrency as the raw limit, one
 * hot coupon, a new user and idempotency key per take, a stock no run can exhaust, so every
 * take must succeed and `total − remain` must equal the successes.
 */
import { PostgresGauge } from '../src/adapters/postgres/postgres-gauge.js';
import { RedisGauge } from '../src/adapters/redis/redis-gauge.js';
import { respRedis, type RespOptions } from '../src/adapters/redis/resp.js';
import { privateRedis } from '../scripts/local/servers.js';
import type { BatchStats } from '../src/adapters/postgres/take-batcher.js';
import { couponKeys } from '../src/coupon/keys.js';
import type { GaugePort } from '../src/stock/gauge.js';
import type { Checks, Row } from './model.js';
import type { BenchOptions } from './options.js';
import { runPool } from './pool.js';
import type { OpenDb } from './postgres.js';
import type { PrivateRedis } from './stack.js';
import { int, say } from './progress.js';
import { confirmSaleCoupon, issueCommand } from './take-command.js';

const STOCK = 100_000_000;

/** Hot-coupon takes through `gauge` for the configured time; one table row. */
export async function measureGauge(id: string, what: string, gauge: GaugePort, options: BenchOptions, checks: Checks, extra: () => string = () => ''): Promise<Row> {
  const couponId = `cpn_${id.replace(/-/g, '')}`;
  await confirmSaleCoupon(gauge, couponId, STOCK);
  const { concurrency, seconds } = options.gauge;
  say(`gauge layer: ${what}, ${concurrency} in flight for ${seconds} s`);
  const result = await runPool({
    label: what,
    concurrency,
    seconds,
    run: async (i) => (await gauge.take(issueCommand(couponId, `u${i}`, `k${i}`, `iss_${id}_${i}`))).ok,
  });
  const [live] = await gauge.read([couponKeys(couponId).issue]);
  const taken = live ? live.total - live.remain : -1;
  const succeeded = result.calls - result.refused - result.errors;
  checks.equal(`${what}: takes that threw`, result.errors, 0);
  checks.equal(`${what}: takes refused with stock left`, result.refused, 0);
  checks.equal(`${what}: total − remain vs successes`, taken, succeeded);
  say(`gauge layer: ${int(result.perSecond)} takes/s, p99 ${result.latency.p99.toFixed(2)} ms${result.firstError ? ` (first error: ${result.firstError})` : ''}`);
  return {
    id,
    section: 'gauge layer',
    what,
    concurrency,
    perSecond: result.perSecond,
    latency: result.latency,
    detail: `${int(succeeded)} taken, total − remain = ${int(taken)}, refused ${result.refused}, errors ${result.errors}${extra()}`,
  };
}

/** `; N batches, takes per batch median/max, commit ms median/max` of a group-committing gauge. */
export function batchDetail(stats: BatchStats | null): string {
  if (!stats || stats.batches === 0) return '';
  return `; ${int(stats.batches)} batches, takes per batch median ${stats.size.median} / max ${stats.size.max}, commit ms median ${stats.commitMs.median.toFixed(1)} / max ${stats.commitMs.max.toFixed(1)}`;
}

/**
 * The Postgres gauge over a database opened for the occasion, closed afterwards: group commit
 * (the default), or one transaction per take (`groupCommit: false`, how it was before).
 */
export async function measurePostgresGauge(
  id: string,
  what: string,
  open: () => Promise<OpenDb>,
  options: BenchOptions,
  checks: Checks,
  groupCommit = true,
): Promise<Row> {
  const store = await open();
  try {
    const gauge = new PostgresGauge({ db: store.db, groupCommit });
    return await measureGauge(id, what, gauge, options, checks, () => batchDetail(gauge.batchStats()));
  } finally {
    await store.close();
  }
}

/** The gauge over RESP with `options`, closed afterwards. */
async function measureRespWith(id: string, what: string, resp: RespOptions, options: BenchOptions, checks: Checks): Promise<Row> {
  const connection = respRedis(resp);
  try {
    return await measureGauge(id, what, new RedisGauge({ redis: connection.redis, scripts: connection.scripts }), options, checks);
  } finally {
    await connection.close();
  }
}

/**
 * The gauge over RESP three ways: one connection (before `REDIS_CONNECTIONS`), the default two,
 * and the default on a Redis with a replica, where `REDIS_WAIT_REPLICAS=auto` waits for it before
 * every answer (what a failover-safe take costs). The replica is a second private redis-server.
 */
export async function measureResp(redis: PrivateRedis, options: BenchOptions, checks: Checks): Promise<Row[]> {
  const rows = [
    await measureRespWith('gauge-resp-1', 'Redis gauge over RESP (ioredis, REDIS_URL), 1 connection', { url: redis.url, connections: 1 }, options, checks),
    await measureRespWith('gauge-resp', 'Redis gauge over RESP (ioredis, REDIS_URL), 2 connections (default)', { url: redis.url }, options, checks),
  ];
  const replica = await privateRedis(['--replicaof', '127.0.0.1', String(redis.port)]);
  try {
    while (!/^slave0:.*state=online/m.test(String(await redis.resp.send(['INFO', 'replication'])))) await new Promise((r) => setTimeout(r, 50));
    const row = await measureRespWith('gauge-resp-wait', 'Redis gauge over RESP, a replica: REDIS_WAIT_REPLICAS=auto waits for it (WAIT 1)', { url: redis.url, waitTimeoutMs: 1_000 }, options, checks);
    rows.push(row);
  } finally {
    await replica.stop();
  }
  return rows;
}
