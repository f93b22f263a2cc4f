/**
 * The raw limit: the take script itself, run by `redis-benchmark` straight against
 * redis-server — no HTTP, no JSON, no Node — with the exact keys and arguments the Redis gauge
 * sends (captured from the adapter), every request a new user and a new idempotency key
 * (`__rand_int__`, replaced independently in each argument). The stock is far larger than the
 * run, so this is the success path, the costlier one; the sold-out path is measured too, since a
 * flash sale mostly refuses.
 */
import { spawn } from 'node:child_process';
import { TAKE } from '../src/adapters/redis/scripts.js';
import type { GaugePort } from '../src/stock/gauge.js';
import { couponKeys } from '../src/coupon/keys.js';
import type { Checks, Row } from './model.js';
import type { BenchOptions } from './options.js';
import { int, say } from './progress.js';
import type { PrivateRedis } from './stack.js';
import { capturedTake, confirmSaleCoupon, evalshaArgs, issueCommand } from './take-command.js';

/** Room for random keys: collisions among a million draws stay around a few hundred. */
const KEYSPACE = 2_000_000_000;
const HUGE_STOCK = 2_000_000_000;

interface BenchmarkRun {
  perSecond: number;
  latency: { p50: number; p95: number; p99: number };
}

/** Runs redis-benchmark and reads its CSV line: "test","rps","avg","min","p50","p95","p99","max". */
export function redisBenchmark(port: number, connections: number, requests: number, pipeline: number, command: string[]): Promise<BenchmarkRun> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-c', String(connections), '-n', String(requests), '-r', String(KEYSPACE)];
  args.push('-P', String(pipeline), '--csv', '--precision', '3', ...command);
  return new Promise((resolve, reject) => {
    const child = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', (e) => reject(new Error(`redis-benchmark could not run (apt-get install redis-tools): ${e.message}`)));
    child.once('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      const numbers = [...line.matchAll(/"([0-9.]+)"/g)].map((m) => Number(m[1]));
      if (code !== 0 || numbers.length < 7) return reject(new Error(`redis-benchmark failed (${code}): ${err || out}`));
      const [perSecond = 0, , , p50 = 0, p95 = 0, p99 = 0] = numbers;
      resolve({ perSecond, latency: { p50, p95, p99 } });
    });
  });
}

const xlen = async (redis: PrivateRedis, key: string) => Number(await redis.resp.send(['XLEN', key]));

export interface RawOptions {
  redis: PrivateRedis;
  /** A gauge over the same Redis, to confirm the coupons as the service would. */
  gauge: GaugePort;
  options: BenchOptions;
  checks: Checks;
}

/** The take command line for `couponId`, every per-request part a random placeholder. */
export async function randomTakeCommand(couponId: string): Promise<string[]> {
  const cmd = issueCommand(couponId, 'u__rand_int__', 'k__rand_int__', 'iss___rand_int__', Date.now());
  return evalshaArgs(await capturedTake(cmd));
}

export async function measureRaw({ redis, gauge, options, checks }: RawOptions): Promise<Row[]> {
  const { connections, requests, pipelinedRequests, pipeline } = options.raw;
  const rows: Row[] = [];
  const loaded = String(await redis.resp.send(['SCRIPT', 'LOAD', TAKE]));

  const success = async (id: string, n: number, p: number, what: string) => {
    const couponId = `cpn_${id}`;
    await confirmSaleCoupon(gauge, couponId, HUGE_STOCK);
    const command = await randomTakeCommand(couponId);
    checks.expect(command[1] === loaded, `the captured script hash ${command[1]} is not the one Redis loaded (${loaded})`);
    say(`raw limit: redis-benchmark EVALSHA take, ${connections} connections${p > 1 ? `, -P ${p}` : ''}, ${int(n)} takes`);
    const run = await redisBenchmark(redis.port, connections, n, p, command);
    const taken = await xlen(redis, couponKeys(couponId).prefix + 'ledger');
    // A random key can repeat (a replay, or a user at their limit); anything more is a bug.
    checks.expect(taken >= n * 0.99, `raw ${id}: only ${int(taken)} of ${int(n)} takes succeeded`);
    say(`raw limit: ${int(run.perSecond)} takes/s, p99 ${run.latency.p99} ms (${int(taken)} taken)`);
    rows.push({
      id,
      section: 'raw limit',
      what,
      concurrency: connections * p,
      perSecond: run.perSecond,
      latency: run.latency,
      detail: `${int(taken)} of ${int(n)} taken (random-key repeats: ${int(n - taken)})`,
    });
  };
  await success('raw', requests, 1, 'take script, EVALSHA by redis-benchmark (success path)');
  await redis.resp.send(['FLUSHALL']);
  await success('raw-pipelined', pipelinedRequests, pipeline, `same, pipelined ${pipeline} deep`);
  await redis.resp.send(['FLUSHALL']);

  // The refusal path: a sold-out stock, every take refused after reading the policy and the gauge.
  const soldOut = 'cpn_rawsoldout';
  await confirmSaleCoupon(gauge, soldOut, 0);
  say(`raw limit: the sold-out path, ${connections} connections, ${int(requests)} takes`);
  const refused = await redisBenchmark(redis.port, connections, requests, 1, await randomTakeCommand(soldOut));
  const leaked = await xlen(redis, couponKeys(soldOut).prefix + 'ledger');
  checks.equal('raw sold-out: takes recorded on a sold-out stock', leaked, 0);
  rows.push({
    id: 'raw-refused',
    section: 'raw limit',
    what: 'same, stock sold out (refusal path)',
    concurrency: connections,
    perSecond: refused.perSecond,
    latency: refused.latency,
    detail: `${int(requests)} refused, ${int(leaked)} taken`,
  });
  await redis.resp.send(['FLUSHALL']);
  return rows;
}
