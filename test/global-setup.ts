/**
 * Starts (or finds) the real servers the suites need, once, before any test, and hands their
 * URLs to the tests. A missing server fails the run with one clear line; nothing is skipped.
 */
import type { TestProject } from 'vitest/node';
import { startCluster } from '../scripts/local/cluster.js';
import { ensurePostgres, ensureRedis } from '../scripts/local/servers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL (database `postgres`) of a real PostgreSQL. */
    postgresUrl: string;
    /** URL of a real redis-server. */
    redisUrl: string;
    /** Seed nodes (`host:port,…`) of a 3-master Redis Cluster; '' unless `TEST_GAUGES` names `cluster`. */
    redisCluster: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const wantsCluster = (process.env.TEST_GAUGES ?? '').split(',').some((c) => c.trim() === 'cluster');
  const [postgres, redis, cluster] = await Promise.all([ensurePostgres(), ensureRedis(), wantsCluster ? startCluster({ masters: 3 }) : null]);
  project.provide('postgresUrl', postgres.url);
  project.provide('redisUrl', redis.url);
  project.provide('redisCluster', cluster?.seeds ?? '');
  return async () => {
    await Promise.all([postgres.stop(), redis.stop(), cluster?.stop()]);
  };
}
