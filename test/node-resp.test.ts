/**
 * The real `npm start` process on a Redis over RESP (`REDIS_URL`) and on a Redis Cluster
 * (`REDIS_CLUSTER_NODES`): /health names the mode, a coupon is issued and synced without drift;
 * bad values, an unreachable Redis and an evicting one stop start-up with one line.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCluster, type LocalCluster } from '../scripts/local/cluster.js';
import { freePort } from '../scripts/local/servers.js';
import { postgresDb, type TestDb } from './support/db.js';
import { startHost, stopHost } from './support/node-process.js';
import { startPrivateRedis } from './support/redis-server.js';

let dataDir: string;
let db: TestDb;
let cluster: LocalCluster;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'cs-node-resp-'));
  [db, cluster] = await Promise.all([postgresDb(), startCluster({ masters: 3 })]);
});
afterAll(async () => {
  await cluster?.stop();
  await db?.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** Starts the host with `env`, creates, confirms and issues a coupon, syncs, and stops it. */
async function serveOnce(env: Record<string, string>, mode: string): Promise<void> {
  const host = await startHost({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url ?? '', ...env });
  try {
    const call = async (method: string, path: string, body?: unknown, token = host.admin) => {
      const res = await fetch(`${host.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    expect((await call('GET', '/health')).body).toMatchObject({ status: 'ok', runtime: 'node', gauges: 'redis', gaugeMode: mode, db: 'postgres' });
    // REDIS_WAIT_REPLICAS=auto decided at start-up, and said: these Redis have no replicas.
    expect(host.output()).toMatch(/"event":"gauge-replication","mode":"(redis|cluster)","waitReplicas":0,"synchronous":false/);
    const created = await call('POST', '/v1/coupons', { name: mode, issueStock: { total: 3 }, perUserIssueLimit: 1 });
    const id = String(created.body.id);
    expect((await call('POST', `/v1/coupons/${id}/confirm`)).status).toBe(200);
    const answers = await Promise.all(['a', 'b', 'c', 'd', 'a'].map((user) => call('POST', `/v1/coupons/${id}/issues`, { userId: user }, host.client)));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 201, 201, 409, 409]);
    expect((await call('POST', `/v1/coupons/${id}/stocks/sync`)).body).toMatchObject({ issue: { remain: 0, ledger: 3, drift: 0 } });
  } finally {
    expect(await stopHost(host)).toBe(0);
  }
}

/** Runs `npm start`'s entry with `env` and returns its exit code and stderr. */
async function failedStart(env: Record<string, string>): Promise<{ code: number | null; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/node.ts'], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', STORE_TIMEOUT_MS: '1000', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, err };
}

describe('npm start over RESP', () => {
  it('serves from a Redis named by REDIS_URL', { timeout: 120_000 }, async () => {
    await serveOnce({ REDIS_URL: inject('redisUrl') }, 'redis');
  });

  it('serves from a Redis Cluster named by REDIS_CLUSTER_NODES', { timeout: 120_000 }, async () => {
    await serveOnce({ REDIS_CLUSTER_NODES: cluster.seeds }, 'cluster');
  });

  it.each([
    [{ REDIS_URL: 'http://127.0.0.1:6379' }, /^coupon-stock: invalid configuration: REDIS_URL: must be redis:\/\/host:port/],
    [{ REDIS_CLUSTER_NODES: '127.0.0.1:7000,redis-b' }, /^coupon-stock: invalid configuration: REDIS_CLUSTER_NODES: must be host:port,host:port,… \("redis-b" is not host:port\)/],
    [{ REDIS_URL: 'redis://127.0.0.1:1', REDIS_CLUSTER_NODES: '127.0.0.1:7000' }, /^coupon-stock: invalid configuration: REDIS_URL: set one of/],
  ])('stops with one line on %o', { timeout: 60_000 }, async (env, line) => {
    const { code, err } = await failedStart(env);
    expect(code).toBe(1);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toMatch(line);
  });

  it('stops with one line when Redis does not answer or may evict keys', { timeout: 60_000 }, async () => {
    const down = await failedStart({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    expect(down.code).toBe(1);
    expect(down.err.trim().split('\n')).toHaveLength(1);
    expect(down.err).toMatch(/^coupon-stock: could not start: Redis \(redis\) did not answer/);
    const evicting = await startPrivateRedis();
    try {
      await evicting.resp.send(['CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru']);
      const refused = await failedStart({ REDIS_URL: evicting.url });
      expect(refused.code).toBe(1);
      expect(refused.err.trim().split('\n')).toHaveLength(1);
      expect(refused.err).toMatch(/^coupon-stock: could not start: Redis maxmemory-policy is allkeys-lru on 127\.0\.0\.1:\d+: .*set it to noeviction/);
    } finally {
      await evicting.stop();
    }
  });
});
