/**
 * The dev/test Neon WebSocket proxy is no relay for a web page: a browser tab on any site could
 * open `ws://127.0.0.1:<port>/v1?address=127.0.0.1:<redis>` and speak RESP to the private Redis
 * (the reported attack ran `SET` and `CONFIG GET dir`). Now an upgrade needs no `Origin` (the
 * Neon driver sends none) or the proxy's own, the secret of this start in its path, and a target
 * on the list the proxy was started with — and the driver still works with the secret. The HTTP
 * query endpoint (`POST /<secret>/sql`) follows the same rules.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocket } from 'ws';
import { createNeonDb } from '../src/adapters/postgres/neon.js';
import { startNeonProxy, targetOf, type NeonProxy } from '../scripts/neon-proxy/proxy.js';

let proxy: NeonProxy;
const postgres = () => targetOf(inject('postgresUrl'));
const redis = () => {
  const u = new URL(inject('redisUrl'));
  return `${u.hostname}:${u.port || 6379}`;
};

beforeAll(async () => {
  // As `npm run dev` and the Worker tests start it: for the one PostgreSQL it fronts.
  proxy = await startNeonProxy({ targets: [postgres()] });
});
afterAll(() => proxy?.close());

/** Opens a WebSocket on `path`; resolves with the status it was refused with, or 101 when it opened. */
const attempt = (path: string, headers: Record<string, string> = {}, via: NeonProxy = proxy) =>
  new Promise<number>((resolve) => {
    const ws = new WebSocket(`${via.url}${path}`, { headers });
    ws.on('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => {});
  });
const good = (address = postgres(), via: NeonProxy = proxy) => `/${via.secret}/v1?address=${address}`;

describe('the Neon proxy refuses', () => {
  it('an upgrade from a web page: a foreign Origin, with or without the secret', async () => {
    for (const origin of ['http://evil.example', 'https://evil.example', 'null', 'http://localhost', 'http://127.0.0.1', `http://127.0.0.1:${proxy.port + 1}`]) {
      // The reported attack: a page's WebSocket to the private Redis.
      expect(await attempt(`/v1?address=${redis()}`, { origin }), origin).toBe(403);
      expect(await attempt(good(), { origin }), origin).toBe(403);
    }
  });

  it('an upgrade without this start’s secret', async () => {
    expect(await attempt(`/v1?address=${postgres()}`)).toBe(403);
    expect(await attempt(`/v1/v1?address=${postgres()}`)).toBe(403);
    expect(await attempt(`/${'x'.repeat(proxy.secret.length)}/v1?address=${postgres()}`)).toBe(403);
    expect(await attempt(`/${proxy.secret.slice(0, -1)}/v1?address=${postgres()}`)).toBe(403);
    expect(await attempt(`/${proxy.secret}x/v1?address=${postgres()}`)).toBe(403);
    // Another start has another secret.
    const other = await startNeonProxy({ targets: [postgres()] });
    try {
      expect(other.secret).not.toBe(proxy.secret);
      expect(await attempt(good(postgres(), proxy), {}, other)).toBe(403);
    } finally {
      await other.close();
    }
  });

  it('a target outside the list it was started with: the Redis port, other hosts, other spellings', async () => {
    const pg = new URL(inject('postgresUrl'));
    expect(await attempt(good(redis()))).toBe(403);
    expect(await attempt(good(`127.0.0.1:${Number(pg.port || 5432) + 1}`))).toBe(403);
    expect(await attempt(good('10.0.0.1:5432'))).toBe(403);
    expect(await attempt(good('db.example.com:5432'))).toBe(403);
    expect(await attempt(good(`${pg.hostname}`))).toBe(400);
  });
});

describe('the HTTP query endpoint (/sql) refuses the same', () => {
  /** POSTs a query as the driver would; resolves with the status. */
  const query = async (path: string, headers: Record<string, string> = {}, database = inject('postgresUrl')) =>
    (await fetch(`http://127.0.0.1:${proxy.port}${path}`, { method: 'POST', headers: { 'neon-connection-string': database, ...headers }, body: '{"query":"select 1","params":[]}' })).status;

  it('a query from a web page (a foreign Origin), even with the secret', async () => {
    for (const origin of ['http://evil.example', 'null', 'http://localhost']) expect(await query(`/${proxy.secret}/sql`, { origin }), origin).toBe(403);
  });

  it('a query without this start’s secret', async () => {
    expect(await query('/sql')).toBe(403);
    expect(await query(`/${proxy.secret.slice(0, -1)}/sql`)).toBe(403);
  });

  it('a database on another server than the one it was started for (the Redis port, other hosts)', async () => {
    expect(await query(`/${proxy.secret}/sql`, {}, `postgres://u:p@${redis()}/db`)).toBe(403);
    expect(await query(`/${proxy.secret}/sql`, {}, 'postgres://u:p@db.example.com:5432/db')).toBe(403);
  });

  it('but answers the driver with the secret and no Origin', async () => {
    expect(await query(`/${proxy.secret}/sql`)).toBe(200);
    expect(proxy.fetchEndpoint).toBe(`http://127.0.0.1:${proxy.port}/${proxy.secret}/sql`);
  });
});

describe('the Neon proxy still serves the driver', () => {
  it('with the secret, end to end to the real PostgreSQL (no Origin, as workerd and Node send)', async () => {
    expect(proxy.wsProxy).toBe(`127.0.0.1:${proxy.port}/${proxy.secret}`);
    expect(proxy.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const neon = createNeonDb({ databaseUrl: inject('postgresUrl'), wsProxy: proxy.wsProxy, webSocketConstructor: WebSocket });
    try {
      // `Db` spans three drivers whose raw results differ in type; this one has `rows`.
      const { rows } = (await neon.db.execute(sql`select 41 + 1 as answer`)) as unknown as { rows: { answer: number }[] };
      expect(rows).toEqual([{ answer: 42 }]);
    } finally {
      await neon.end();
    }
  });

  it('and an upgrade that names the proxy’s own origin', async () => {
    expect(await attempt(good(), { origin: `http://127.0.0.1:${proxy.port}` })).toBe(101);
    expect(await attempt(good(), { origin: `http://localhost:${proxy.port}` })).toBe(101);
  });
});
