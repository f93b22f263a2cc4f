/**
 * A Redis that may evict keys is refused at start: eviction (or `volatile-*`, which takes
 * exactly the keys with a time to live) would lose counters, markers and idempotency records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstashRest, type UpstashRest } from '../scripts/upstash-rest/server.js';
import { evictionPolicy, mayEvict } from '../src/adapters/redis/eviction.js';
import { parseEnv } from '../src/node/config.js';
import { startNodeHost } from '../src/node/host.js';
import { startPrivateRedis, type PrivateRedis } from './support/redis-server.js';

describe('eviction policy', () => {
  let redis: PrivateRedis;
  let rest: UpstashRest;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    rest = await startUpstashRest({ redisUrl: redis.url, token: 'evict-token' });
  });
  afterAll(async () => {
    await rest?.close();
    await redis?.stop();
  });

  it('reads the policy over the REST protocol, and null where it cannot be read', async () => {
    await redis.resp.send(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
    expect(await evictionPolicy(rest.url, 'evict-token')).toBe('noeviction');
    expect(await evictionPolicy(rest.url, 'wrong-token')).toBeNull();
    expect(mayEvict('noeviction')).toBe(false);
    for (const p of ['allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl']) expect(mayEvict(p)).toBe(true);
  });

  it('refuses to start the Node host on a Redis that may evict, with one clear line', async () => {
    await redis.resp.send(['CONFIG', 'SET', 'maxmemory-policy', 'volatile-lru']);
    const parsed = parseEnv({ UPSTASH_REDIS_REST_URL: rest.url, UPSTASH_REDIS_REST_TOKEN: 'evict-token', DATA_DIR: '/nonexistent-never-opened', PORT: '0' });
    if (!parsed.ok) throw new Error(parsed.message);
    await expect(startNodeHost(parsed.config)).rejects.toThrow(/maxmemory-policy is volatile-lru: .*set it to noeviction/);
    await redis.resp.send(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
  });
});
