/**
 * The Redis gauge over RESP (ioredis, `src/adapters/redis/resp.ts`) against the real
 * redis-server of the global setup: the shared gauge contract, plus what only this transport
 * has (one EVALSHA per take, EVAL after SCRIPT FLUSH, takes of one turn in one write, WAIT).
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RedisGauge } from '../src/adapters/redis/redis-gauge.js';
import { parseClusterNodes, respRedis, type RespRedis } from '../src/adapters/redis/resp.js';
import { TAKE } from '../src/adapters/redis/scripts.js';
import { privateRedis } from '../scripts/local/servers.js';
import { gaugeContract } from './contract/gauge-contract.js';
import { freshScope, opIdOf } from './contract/gauge-fixture.js';

let resp: RespRedis;
let raw: Redis;
beforeAll(() => {
  resp = respRedis({ url: inject('redisUrl') });
  raw = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  await resp.close();
  raw.disconnect();
});

const forget = {
  gauge: async (key: string) => void (await raw.del(key)),
  policy: async (prefix: string) => void (await raw.del(`${prefix}policy`)),
};
gaugeContract('redis (resp, ioredis)', async () => ({ gauge: new RedisGauge({ redis: resp.redis, scripts: resp.scripts }), forget, close: async () => {} }));

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

/** Commands redis-server ran, by name, from INFO commandstats. */
async function commandCalls(): Promise<Record<string, number>> {
  const info = await raw.info('commandstats');
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)) out[m[1] ?? ''] = Number(m[2]);
  return out;
}

describe('redis gauge over resp', () => {
  const gauge = () => new RedisGauge({ redis: resp.redis, scripts: resp.scripts });

  it('costs one EVALSHA per take, and falls back to EVAL after SCRIPT FLUSH', async () => {
    const s = await freshScope(gauge(), 10);
    await s.take({ user: 'warm' });
    const before = await commandCalls();
    expect((await s.take({ user: 'u1' })).ok).toBe(true);
    const after = await commandCalls();
    expect((after.evalsha ?? 0) - (before.evalsha ?? 0)).toBe(1);
    expect((after.eval ?? 0) - (before.eval ?? 0)).toBe(0);
    await raw.script('FLUSH');
    expect(await raw.script('EXISTS', sha1(TAKE))).toEqual([0]);
    expect((await s.take({ user: 'u2' })).ok).toBe(true);
    expect(await raw.script('EXISTS', sha1(TAKE))).toEqual([1]);
    expect(await s.remainOf()).toBe(7);
  });

  it('sends the takes of concurrent callers together and never oversells', async () => {
    const s = await freshScope(gauge(), 50);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => s.take({ user: `u${i}` })));
    expect(results.filter((r) => r.ok)).toHaveLength(50);
    expect(await s.remainOf()).toBe(0);
    const restored = await s.restore(opIdOf(results.find((r) => r.ok) ?? results[0]!));
    expect(restored.ok).toBe(true);
  });

  it('with WAIT on a Redis without replicas, refuses to confirm a write (fails the call)', async () => {
    const waiting = respRedis({ url: inject('redisUrl'), waitReplicas: 1, waitTimeoutMs: 20 });
    try {
      const g = new RedisGauge({ redis: waiting.redis, scripts: waiting.scripts });
      await expect(freshScope(g, 1)).rejects.toThrow(/replication not confirmed/);
      expect(waiting.stats.waitsShort).toBeGreaterThan(0);
    } finally {
      await waiting.close();
    }
  });

  it('REDIS_WAIT_REPLICAS=auto waits for no replica on a Redis that has none', async () => {
    const auto = respRedis({ url: inject('redisUrl'), waitReplicas: 'auto' });
    try {
      const s = await freshScope(new RedisGauge({ redis: auto.redis, scripts: auto.scripts }), 2);
      expect((await s.take({ user: 'u1' })).ok).toBe(true);
      expect(auto.stats).toEqual({ waitsShort: 0, waitReplicas: 0 });
    } finally {
      await auto.close();
    }
  });

  it('REDIS_WAIT_REPLICAS=auto waits for one replica on a Redis that has one, and fails closed while it is away', { timeout: 30_000 }, async () => {
    const master = await privateRedis();
    const replica = await privateRedis(['--replicaof', '127.0.0.1', String(master.port)]);
    const auto = respRedis({ url: master.url, waitReplicas: 'auto', waitTimeoutMs: 100 });
    const onReplica = new Redis(replica.url);
    try {
      const linked = new Redis(master.url);
      while (!/^slave0:.*state=online/m.test(await linked.info('replication'))) await new Promise((r) => setTimeout(r, 50));
      linked.disconnect();
      expect(await auto.replication()).toBe(1);
      const g = new RedisGauge({ redis: auto.redis, scripts: auto.scripts });
      const s = await freshScope(g, 5);
      const taken = await s.take({ user: 'u1' });
      expect(taken.ok).toBe(true);
      // Answered only once the replica had it: the replica already holds the take's stock.
      expect(await onReplica.hget(s.stock, 'r')).toBe('4');
      // The replica stops answering: a take runs on the master but is never answered 201.
      replica.signal('SIGSTOP');
      const u2 = { user: 'u2', idempotencyKey: 'k-u2', opId: 'op-u2' };
      await expect(s.take(u2)).rejects.toThrow(/replication not confirmed/);
      expect(auto.stats.waitsShort).toBeGreaterThan(0);
      // Back: the retry with the same key replays the take that ran, once.
      replica.signal('SIGCONT');
      let retried = await s.take(u2).catch((error: Error) => error);
      for (let i = 0; i < 50 && retried instanceof Error; i++) retried = await s.take(u2).catch((error: Error) => error);
      expect(retried).toMatchObject({ ok: true, opId: 'op-u2', replayed: true });
      expect(await s.remainOf()).toBe(3);
    } finally {
      onReplica.disconnect();
      await auto.close();
      await replica.stop();
      await master.stop();
    }
  });

  it('takes turns over REDIS_CONNECTIONS connections; takes sent together with one `order` keep it', async () => {
    const ids = async () => ((await raw.client('LIST')) as string).split('\n').map((line) => /^id=(\d+) /.exec(line)?.[1] ?? '');
    const others = new Set(await ids());
    const pooled = respRedis({ url: inject('redisUrl'), connections: 3, waitReplicas: 0 });
    try {
      const g = new RedisGauge({ redis: pooled.redis, scripts: pooled.scripts });
      const s = await freshScope(g, 10);
      // A batch: 8 takes sent together with one order, 3 times, against what is left: the
      // first ones in call order win, whichever connections other calls take.
      for (let round = 0; round < 3; round++) {
        const left = (await s.remainOf()) ?? 0;
        const results = await Promise.all(Array.from({ length: 8 }, (_, i) => s.take({ user: `b${round}-u${i}`, order: `batch-${round}` })));
        expect(results.map((r) => r.ok)).toEqual(Array.from({ length: 8 }, (_, i) => i < left));
      }
      expect(await s.remainOf()).toBe(0);
      // Plain calls spread over every connection.
      await Promise.all(Array.from({ length: 9 }, (_, i) => s.take({ user: `p${i}` })));
      const used = ((await raw.client('LIST')) as string)
        .split('\n')
        .filter((line) => / name=coupon-stock /.test(line) && / cmd=evalsha /.test(line))
        .map((line) => /^id=(\d+) /.exec(line)?.[1] ?? '')
        .filter((id) => !others.has(id));
      expect(used).toHaveLength(3);
    } finally {
      await pooled.close();
    }
  });

  it('reads the eviction policy of the node', async () => {
    expect(await resp.evictionPolicies()).toEqual([{ node: expect.any(String), policy: expect.any(String) }]);
  });

  it('parses REDIS_CLUSTER_NODES', () => {
    expect(parseClusterNodes('127.0.0.1:7000, redis-a:7001,[::1]:7002')).toEqual([
      { host: '127.0.0.1', port: 7000 },
      { host: 'redis-a', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    expect(() => parseClusterNodes('127.0.0.1')).toThrow('"127.0.0.1" is not host:port');
    expect(() => parseClusterNodes('redis://h:1')).toThrow(/not host:port/);
    expect(() => parseClusterNodes('h:70000')).toThrow(/not host:port/);
  });
});
