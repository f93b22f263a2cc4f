/**
 * Redis Cluster: takes per second through the gauge over RESP (ioredis in cluster mode) on many
 * coupons, on a one-master cluster and spread over three masters, and the Redis time per take on
 * each master (`INFO commandstats`: EVALSHA calls and µs per call), so the split of the load can
 * be read off the same run. Every take is a new user on a coupon picked at random; stocks are
 * far larger than the run, so every take must succeed.
 *
 * On the 2-core machine this runs on, the bench client, ioredis and every redis-server share the
 * cores: the 3-master figure shows the load splitting evenly, not the throughput a cluster of
 * separate machines reaches.
 */
import { RedisGauge } from '../src/adapters/redis/redis-gauge.js';
import { parseClusterNodes, respRedis } from '../src/adapters/redis/resp.js';
import { couponKeys } from '../src/coupon/keys.js';
import { startCluster } from '../scripts/local/cluster.js';
import type { Checks, Row } from './model.js';
import type { BenchOptions } from './options.js';
import { runPool } from './pool.js';
import { int, say } from './progress.js';
import { confirmSaleCoupon, issueCommand } from './take-command.js';

const STOCK = 100_000_000;

/** EVALSHA calls and µs per call of one node, from INFO commandstats. */
function evalshaStats(info: string): { calls: number; usecPerCall: number } {
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+),usec_per_call=([0-9.]+)/.exec(info);
  return { calls: Number(m?.[1] ?? 0), usecPerCall: Number(m?.[3] ?? 0) };
}

async function measureOn(masters: number, coupons: number, options: BenchOptions, checks: Checks): Promise<Row> {
  say(`cluster: starting a ${masters}-master cluster`);
  const cluster = await startCluster({ masters });
  const resp = respRedis({ cluster: parseClusterNodes(cluster.seeds) });
  try {
    const gauge = new RedisGauge({ redis: resp.redis, scripts: resp.scripts });
    const ids = Array.from({ length: coupons }, (_, i) => `cpn_cluster${masters}m${i}`);
    for (let i = 0; i < ids.length; i += 50) await Promise.all(ids.slice(i, i + 50).map((id) => confirmSaleCoupon(gauge, id, STOCK)));
    const nodes = (await cluster.nodes()).filter((n) => n.role === 'master');
    await Promise.all(nodes.map((n) => cluster.node(n.port).config('RESETSTAT')));
    const concurrency = options.gauge.concurrency;
    say(`cluster: ${masters} master(s), ${coupons} coupons, ${concurrency} in flight for ${options.gauge.seconds} s`);
    const result = await runPool({
      label: `${masters}-master cluster`,
      concurrency,
      seconds: options.gauge.seconds,
      run: async (i) => {
        const id = ids[Math.floor(Math.random() * ids.length)] ?? '';
        return (await gauge.take(issueCommand(id, `u${i}`, `k${i}`, `iss_c${masters}_${i}`))).ok;
      },
    });
    const perNode = await Promise.all(nodes.map(async (n) => ({ port: n.port, ...evalshaStats(await cluster.node(n.port).info('commandstats')) })));
    const live = await Promise.all(ids.map(async (id) => (await gauge.read([couponKeys(id).issue]))[0]));
    const taken = live.reduce((sum, g) => sum + (g ? g.total - g.remain : 0), 0);
    const succeeded = result.calls - result.refused - result.errors;
    checks.equal(`cluster ${masters}m: takes that threw`, result.errors, 0);
    checks.equal(`cluster ${masters}m: total − remain vs successes`, taken, succeeded);
    const calls = perNode.reduce((s, n) => s + n.calls, 0);
    const split = perNode.map((n) => `${Math.round((n.calls / Math.max(1, calls)) * 100)}% at ${n.usecPerCall.toFixed(1)} µs`).join(', ');
    say(`cluster: ${int(result.perSecond)} takes/s; per master: ${split}`);
    return {
      id: `cluster-${masters}m`,
      section: 'gauge layer',
      what: `Redis Cluster over RESP, ${masters} master${masters > 1 ? 's' : ''}, ${int(coupons)} coupons`,
      concurrency,
      perSecond: result.perSecond,
      latency: result.latency,
      redisMicros: calls > 0 ? perNode.reduce((s, n) => s + n.usecPerCall * n.calls, 0) / calls : 0,
      detail: `${int(succeeded)} taken; takes and Redis µs per take by master: ${split}`,
    };
  } finally {
    await resp.close();
    await cluster.stop();
  }
}

/** The two rows: one master, then three, the same coupons and load. */
export async function measureCluster(options: BenchOptions, checks: Checks): Promise<Row[]> {
  const coupons = options.quick ? 60 : 300;
  return [await measureOn(1, coupons, options, checks), await measureOn(3, coupons, options, checks)];
}
