/**
 * `npm start` on a DATA_DIR that does not exist yet — a fresh clone, a new Docker volume, a
 * systemd unit's first start — in every start-up combination: tokens generated or from the
 * environment, the store embedded (PGlite) or PostgreSQL (`DATABASE_URL`), gauges in the store
 * or in Redis through the Upstash REST endpoint. Every start must create the directory and its
 * missing parents (0700: it holds the tokens and the database), answer /health and create,
 * confirm and issue a coupon.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startUpstashRest, type UpstashRest } from '../scripts/upstash-rest/server.js';
import { postgresDb, type TestDb } from './support/db.js';
import { startHost, stopHost } from './support/node-process.js';

const TOKENS = ['generated', 'environment'] as const;
const STORES = ['pglite', 'postgres'] as const;
const GAUGES = ['postgres', 'redis'] as const;
const MATRIX = TOKENS.flatMap((tokens) => STORES.flatMap((store) => GAUGES.map((gauges) => ({ tokens, store, gauges }))));

const REST_TOKEN = 'node-start-upstash-token';
const FROM_ENV = { ADMIN_API_TOKEN: 'start-admin-token-0123456789', CLIENT_API_TOKEN: 'start-client-token-0123456789' };

const mode = async (path: string) => (await stat(path)).mode & 0o777;
const exists = (path: string) => stat(path).then(() => true, () => false);

describe('npm start on a DATA_DIR that does not exist yet', () => {
  let base: string;
  let rest: UpstashRest;

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'cs-start-'));
    rest = await startUpstashRest({ redisUrl: inject('redisUrl'), token: REST_TOKEN });
  });
  afterAll(async () => {
    await rest?.close();
    await rm(base, { recursive: true, force: true });
  });

  it.each(MATRIX)('starts with $tokens tokens, the $store store and $gauges gauges', { timeout: 180_000 }, async ({ tokens, store, gauges }) => {
    // Two levels that do not exist: the directory and its parent.
    const parent = join(base, `${tokens}-${store}-${gauges}`);
    const dataDir = join(parent, 'volume', 'data');
    expect(await exists(parent)).toBe(false);
    let db: TestDb | null = null;
    try {
      const env: Record<string, string> = { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' };
      if (tokens === 'environment') Object.assign(env, FROM_ENV);
      if (store === 'postgres') {
        db = await postgresDb();
        env.DATABASE_URL = db.url ?? '';
      }
      if (gauges === 'redis') Object.assign(env, { UPSTASH_REDIS_REST_URL: rest.url, UPSTASH_REDIS_REST_TOKEN: REST_TOKEN });
      const host = await startHost(env);
      try {
        expect(host.output()).not.toContain('could not start');
        // The directory and the parents it created are private; the tokens file too.
        for (const dir of [dataDir, join(parent, 'volume'), parent]) expect(await mode(dir), dir).toBe(0o700);
        const files = await readdir(dataDir);
        if (tokens === 'generated') expect(await mode(join(dataDir, 'tokens.json'))).toBe(0o600);
        else expect(files).not.toContain('tokens.json');
        if (store === 'pglite') expect(files).toContain('pglite');
        else expect(files).not.toContain('pglite');

        const call = async (method: string, path: string, token: string | null, body?: unknown) => {
          const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
          if (token) headers.authorization = `Bearer ${token}`;
          const res = await fetch(`${host.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
          return { status: res.status, body: (await res.json()) as Record<string, unknown> };
        };
        const health = await call('GET', '/health', null);
        expect(health).toMatchObject({ status: 200, body: { status: 'ok', runtime: 'node', gauges, db: store } });
        const created = await call('POST', '/v1/coupons', host.admin, { name: `start ${tokens} ${store} ${gauges}`, issueStock: { total: 5 } });
        expect(created.status).toBe(201);
        const id = String(created.body.id);
        expect((await call('POST', `/v1/coupons/${id}/confirm`, host.admin)).status).toBe(200);
        const issued = await call('POST', `/v1/coupons/${id}/issues`, host.client, { userId: 'first-user' });
        expect(issued).toMatchObject({ status: 201, body: { couponId: id, userId: 'first-user', remain: 4 } });
      } finally {
        expect(await stopHost(host)).toBe(0);
      }
    } finally {
      await db?.close();
    }
  });
});
