/**
 * Starts (or finds) the real servers the suites need, once, before any test, and hands their
 * URLs to the tests. A missing server fails the run with one clear line; nothing is skipped.
 */
import type { TestProject } from 'vitest/node';
import { ensurePostgres, ensureRedis } from '../scripts/local/servers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL (database `postgres`) of a real PostgreSQL. */
    postgresUrl: string;
    /** URL of a real redis-server. */
    redisUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [postgres, redis] = await Promise.all([ensurePostgres(), ensureRedis()]);
  project.provide('postgresUrl', postgres.url);
  project.provide('redisUrl', redis.url);
  return async () => {
    await Promise.all([postgres.stop(), redis.stop()]);
  };
}
