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
