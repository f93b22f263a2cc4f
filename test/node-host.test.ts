/**
 * The real `npm start` process: started, used, stopped with SIGTERM and started again on the
 * same DATA_DIR — every coupon and count must be intact and the tokens the same.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../scripts/local/servers.js';
import { startUpstashRest } from '../scripts/upstash-rest/server.js';
import { postgresDb } from './support/db.js';
import { startHost, stopHost, type StartedHost } from './support/node-process.js';
import { takeRequests } from './support/take-requests.js';

describe('node host', () => {
  let dataDir: string;
  let port: number;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'cs-node-'));
    port = await freePort();
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps every coupon, count and token across a SIGTERM restart', { timeout: 120_000 }, async () => {
    const env = { DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1' };
    const first = await startHost(env);
    expect(first.url).toBe(`http://127.0.0.1:${port}`);
    const call = async (s: StartedHost, method: string, path: string, body?: unknown, token = s.admin) => {
      const res = await fetch(`${s.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    const health = await call(first, 'GET', '/health');
    expect(health.body).toMatchObject({ status: 'ok', runtime: 'node', gauges: 'postgres', db: 'pglite' });
    const created = await call(first, 'POST', '/v1/coupons', { name: 'restart', issueStock: { total: 10 }, useStock: { total: 5 } });
    expect(created.status).toBe(201);
    const id = String(created.body.id);
    expect((await call(first, 'POST', `/v1/coupons/${id}/confirm`)).status).toBe(200);
    const issues: string[] = [];
    for (const user of ['a', 'b', 'c']) {
      const issued = await call(first, 'POST', `/v1/coupons/${id}/issues`, { userId: user }, first.client);
      expect(issued.status).toBe(201);
      issues.push(String(issued.body.issueId));
    }
    expect((await call(first, 'POST', `/v1/coupons/${id}/uses`, { userId: 'a' }, first.client)).status).toBe(201);
    expect((await call(first, 'POST', `/v1/coupons/${id}/issues/${issues[2]}/cancel`, undefined, first.client)).status).toBe(200);
    expect(await stopHost(first)).toBe(0);

    const second = await startHost(env);
    expect([second.admin, second.client]).toEqual([first.admin, first.client]);
    const live = await call(second, 'GET', `/v1/coupons/${id}/stocks/live`, undefined, second.client);
    expect(live.body).toEqual({ issue: { total: 10, remain: 8 }, use: { total: 5, remain: 4 } });
    const sync = await call(second, 'POST', `/v1/coupons/${id}/stocks/sync`);
    expect(sync.body).toMatchObject({ issue: { remain: 8, ledger: 2, drift: 0 }, use: { remain: 4, ledger: 1, drift: 0 } });
    const holdings = await call(second, 'GET', '/v1/users/a/coupons', undefined, second.client);
    expect(holdings.body).toMatchObject({ userId: 'a', coupons: [{ couponId: id, issued: 1, used: 1 }] });
    const again = await call(second, 'POST', `/v1/coupons/${id}/issues/${issues[2]}/cancel`, undefined, second.client);
    expect(again.body).toMatchObject({ status: 'cancelled', remain: 8 });
    expect(await stopHost(second)).toBe(0);
  });

  it('prints generated tokens on the first start only, and never tokens from the environment', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cs-node-tokens-'));
    try {
      const env = { DATA_DIR: dir, PORT: '0', HOST: '127.0.0.1' };
      const first = await startHost(env);
      expect(first.output()).toContain(`  admin token:  ${first.admin}\n  client token: ${first.client}\n`);
      expect(first.output()).toContain(`  tokens: generated now and kept in ${dir}/tokens.json (not printed again)\n`);
      expect(await stopHost(first)).toBe(0);

      const second = await startHost(env);
      expect([second.admin, second.client]).toEqual([first.admin, first.client]);
      expect(second.output()).not.toContain(first.admin);
      expect(second.output()).not.toContain(first.client);
      expect(second.output()).toContain(`  tokens: kept in ${dir}/tokens.json (generated on first start)\n`);
      const listed = await fetch(`${second.url}/v1/coupons`, { headers: { authorization: `Bearer ${second.admin}` } });
      expect(listed.status).toBe(200);
      expect(await stopHost(second)).toBe(0);

      const fromEnv = { ADMIN_API_TOKEN: 'env-admin-token-0123456789', CLIENT_API_TOKEN: 'env-client-token-0123456789' };
      for (const dataDir of [dir, await mkdtemp(join(tmpdir(), 'cs-node-env-'))]) {
        const third = await startHost({ ...env, DATA_DIR: dataDir, ...fromEnv });
        for (const secret of [...Object.values(fromEnv), first.admin, first.client]) expect(third.output()).not.toContain(secret);
        expect(third.output()).toContain('  tokens: from the environment\n');
        const answer = await fetch(`${third.url}/v1/coupons`, { headers: { authorization: `Bearer ${fromEnv.ADMIN_API_TOKEN}` } });
        expect(answer.status).toBe(200);
        expect(await stopHost(third)).toBe(0);
        if (dataDir !== dir) {
          await expect(readFile(join(dataDir, 'tokens.json'), 'utf8')).rejects.toThrow();
          await rm(dataDir, { recursive: true, force: true });
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('uses Upstash and the PostgreSQL of DATABASE_URL when they are set', { timeout: 120_000 }, async () => {
    const rest = await startUpstashRest({ redisUrl: inject('redisUrl'), token: 'node-host-token' });
    const db = await postgresDb();
    let running: StartedHost | null = null;
    try {
      const started = await startHost({
        DATA_DIR: dataDir,
        PORT: String(await freePort()),
        HOST: '127.0.0.1',
        DATABASE_URL: db.url ?? '',
        UPSTASH_REDIS_REST_URL: rest.url,
        UPSTASH_REDIS_REST_TOKEN: 'node-host-token',
        // 200 takes at once on a busy 2-core machine: this test is about sharing requests, not deadlines.
        TAKE_TIMEOUT_MS: '30000',
      });
      running = started;
      const get = (path: string) => fetch(`${started.url}${path}`, { headers: { authorization: `Bearer ${started.admin}` } });
      expect(await (await get('/health')).json()).toMatchObject({ status: 'ok', gauges: 'redis', db: 'postgres' });
      const post = (path: string, body?: unknown) =>
        fetch(`${started.url}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${started.admin}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      const created = (await (await post('/v1/coupons', { name: 'upstash', issueStock: { total: 3 } })).json()) as { id: string };
      await post(`/v1/coupons/${created.id}/confirm`);
      expect((await post(`/v1/coupons/${created.id}/issues`, { userId: 'warm' })).status).toBe(201);
      rest.resetStats(); // from here the take script is known to Redis: one EVALSHA per take
      expect((await post(`/v1/coupons/${created.id}/issues`, { userId: 'u' })).status).toBe(201);
      expect(takeRequests(rest.stats)).toEqual([[expect.stringMatching(/^EVALSHA /)]]);
      expect(await (await post(`/v1/coupons/${created.id}/stocks/sync`)).json()).toMatchObject({ issue: { remain: 1, ledger: 2, drift: 0 } });
      // Concurrent requests share round trips: the host coalesces the scripts of one event-loop
      // turn into one /pipeline request, each take still its own EVALSHA.
      const rush = (await (await post('/v1/coupons', { name: 'rush', issueStock: { total: 1_000 } })).json()) as { id: string };
      await post(`/v1/coupons/${rush.id}/confirm`);
      await post(`/v1/coupons/${rush.id}/issues`, { userId: 'warm' });
      rest.resetStats();
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => post(`/v1/coupons/${rush.id}/issues`, { userId: `r${i}` })));
      expect(answers.every((a) => a.status === 201)).toBe(true);
      const trips = takeRequests(rest.stats);
      expect(trips.flat()).toHaveLength(200);
      expect(trips.length).toBeLessThan(200);
      console.log(`node host: 200 concurrent issues reached Upstash in ${trips.length} requests`);
      expect(await stopHost(started)).toBe(0);
    } finally {
      // A failed assertion must not leave the host running.
      if (running) await stopHost(running);
      await rest.close();
      await db.close();
    }
  });

  it('stops with one clear line on bad configuration', async () => {
    const bad = spawn(join('node_modules', '.bin', 'tsx'), ['src/node.ts'], {
      env: { ...process.env, PORT: 'not-a-port', DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    bad.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => bad.once('exit', resolve));
    expect(code).toBe(1);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toMatch(/^coupon-stock: invalid configuration: PORT/);
  });
});
