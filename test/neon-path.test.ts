/**
 * The Worker's database path, in Node: Drizzle over the Neon serverless driver (statements over
 * HTTP, transactions over the WebSocket pool), through the local proxy, to a real PostgreSQL (a fresh database migrated through the same
 * path) and to PGlite served by pglite-socket (the zero-config `npm run dev`). Then the proxy
 * on its own: what it refuses, and that neither side outlives the other. (Origins and the
 * per-start secret: `neon-proxy-security.test.ts`.)
 */
import { connect as connectTcp, createServer, type Server, type Socket } from 'node:net';
import { eq, sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocket, type RawData } from 'ws';
import { createNeonDb, type NeonDb } from '../src/adapters/postgres/neon.js';
import { coupons } from '../src/adapters/postgres/schema.js';
import { migrateThroughNeon } from '../scripts/neon-proxy/migrate.js';
import { startPgliteServer, type PgliteServer } from '../scripts/neon-proxy/pglite-server.js';
import { startNeonProxy, targetOf, type NeonProxy } from '../scripts/neon-proxy/proxy.js';

/**
 * The proxy in front of the real PostgreSQL of the global setup (it reaches nothing else). Its
 * HTTP query endpoint closes idle pooled connections at once, so the session counts below see
 * the WebSocket pool's connections only.
 */
let proxy: NeonProxy;
beforeAll(async () => {
  proxy = await startNeonProxy({ targets: [targetOf(inject('postgresUrl'))], httpIdleMs: 100 });
});
afterAll(() => proxy?.close());

const connect = (databaseUrl: string, via: NeonProxy = proxy): NeonDb => createNeonDb({ databaseUrl, wsProxy: via.wsProxy, webSocketConstructor: WebSocket });

const coupon = (id: string) => {
  const now = new Date('2026-01-01T00:00:00Z');
  return { id, name: `coupon ${id}`, status: 'draft' as const, issueTotal: 100, createdAt: now, updatedAt: now };
};

async function eventually(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The same drizzle flow on any database reachable through the proxy. */
function basicFlow(open: () => NeonDb) {
  it('inserts and selects a coupon row', async () => {
    const neon = open();
    try {
      await neon.db.insert(coupons).values(coupon('basic'));
      const rows = await neon.db.select().from(coupons).where(eq(coupons.id, 'basic'));
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ id: 'basic', status: 'draft', issueTotal: 100, useTotal: null });
      expect(rows[0]?.createdAt.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    } finally {
      await neon.end();
    }
  });

  it('commits a transaction', async () => {
    const neon = open();
    try {
      const answer = await neon.db.transaction(async (tx) => {
        await tx.insert(coupons).values([coupon('tx-a'), coupon('tx-b')]);
        await tx.update(coupons).set({ status: 'confirmed' }).where(eq(coupons.id, 'tx-a'));
        return 'done';
      });
      expect(answer).toBe('done');
      const rows = await neon.db.select({ id: coupons.id, status: coupons.status }).from(coupons).where(sql`${coupons.id} like 'tx-%'`).orderBy(coupons.id);
      expect(rows).toEqual([
        { id: 'tx-a', status: 'confirmed' },
        { id: 'tx-b', status: 'draft' },
      ]);
    } finally {
      await neon.end();
    }
  });

  it('rolls back a transaction that throws, and one that hits a constraint', async () => {
    const neon = open();
    try {
      await expect(
        neon.db.transaction(async (tx) => {
          await tx.insert(coupons).values(coupon('rb-thrown'));
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      await expect(
        neon.db.transaction(async (tx) => {
          await tx.insert(coupons).values(coupon('rb-dup'));
          await tx.insert(coupons).values(coupon('rb-dup'));
        }),
      ).rejects.toMatchObject({ cause: { code: '23505' } });
      const rows = await neon.db.select({ id: coupons.id }).from(coupons).where(sql`${coupons.id} like 'rb-%'`);
      expect(rows).toEqual([]);
      // The connection that rolled back went back to the pool usable.
      expect(await neon.db.$count(coupons, eq(coupons.id, 'basic'))).toBe(1);
    } finally {
      await neon.end();
    }
  });

  it('runs concurrent queries and transactions on one pool', async () => {
    const neon = open();
    try {
      const ids = Array.from({ length: 8 }, (_, i) => `par-${i}`);
      await Promise.all(
        ids.map((id) =>
          neon.db.transaction(async (tx) => {
            await tx.insert(coupons).values(coupon(id));
            await tx.update(coupons).set({ useTotal: 5 }).where(eq(coupons.id, id));
          }),
        ),
      );
      const counts = await Promise.all(ids.map((id) => neon.db.$count(coupons, eq(coupons.id, id))));
      expect(counts).toEqual(ids.map(() => 1));
      expect(await neon.db.$count(coupons, sql`${coupons.id} like 'par-%' and ${coupons.useTotal} = 5`)).toBe(8);
    } finally {
      await neon.end();
    }
  });
}

describe('Neon driver → proxy → real PostgreSQL', () => {
  const admin = new pg.Client({ connectionString: inject('postgresUrl') });
  const dbName = `cs_neon_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  let url = '';
  const sessions = async () => {
    const res = await admin.query<{ n: string }>('select count(*) as n from pg_stat_activity where datname = $1', [dbName]);
    return Number(res.rows[0]?.n);
  };

  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    const u = new URL(inject('postgresUrl'));
    u.pathname = `/${dbName}`;
    url = u.toString();
    await migrateThroughNeon({ databaseUrl: url, wsProxy: proxy.wsProxy, webSocketConstructor: WebSocket });
  });
  afterAll(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  });

  basicFlow(() => connect(url));

  it('uses several connections at once and leaves none behind after end()', async () => {
    const neon = connect(url);
    // Transactions: the WebSocket pool (one-shot statements go over HTTP, neon-http.test.ts).
    const pids = await Promise.all(
      Array.from({ length: 6 }, () =>
        neon.db.transaction((tx) => tx.select({ pid: sql<number>`pg_backend_pid()`, slept: sql<string>`pg_sleep(0.1)::text` }).from(coupons).where(eq(coupons.id, 'basic'))),
      ),
    );
    expect(new Set(pids.map((rows) => rows[0]?.pid)).size).toBeGreaterThan(1);
    expect(await sessions()).toBeGreaterThan(1);
    await neon.end();
    await neon.end(); // a second end() (e.g. request scope and error path both) is harmless
    await eventually(async () => (await sessions()) === 0);
  });

  it('drops the Postgres sessions when the proxy itself closes under an open pool', async () => {
    const own = await startNeonProxy({ targets: [targetOf(url)], httpIdleMs: 100 });
    const neon = connect(url, own);
    await neon.db.transaction((tx) => tx.$count(coupons));
    expect(await sessions()).toBe(1);
    await own.close();
    await eventually(async () => (await sessions()) === 0);
    await neon.end();
  });
});

describe('Neon driver → proxy → PGlite over pglite-socket (zero-config dev)', () => {
  let server: PgliteServer;
  let pgliteProxy: NeonProxy;
  beforeAll(async () => {
    server = await startPgliteServer();
    pgliteProxy = await startNeonProxy({ targets: [targetOf(server.url)] });
  });
  afterAll(async () => {
    await pgliteProxy?.close();
    await server?.close();
  });

  basicFlow(() => connect(server.url, pgliteProxy));
});

describe('the proxy', () => {
  /** Opens a raw WebSocket to the proxy; resolves with the HTTP status it was refused with. */
  const refusal = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${proxy.url}/${proxy.secret}${path}`);
      ws.on('open', () => reject(new Error(`${path} was accepted`)));
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => {});
    });

  it('refuses targets it was not started for, bad addresses and other paths', async () => {
    expect(await refusal('/v1?address=10.0.0.1:5432')).toBe(403);
    expect(await refusal('/v1?address=127.0.0.1:6379')).toBe(403);
    expect(await refusal('/v1?address=db.example.com:5432')).toBe(403);
    expect(await refusal('/v1?address=127.0.0.1')).toBe(400);
    expect(await refusal('/v2?address=127.0.0.1:5432')).toBe(404);
    // Through the driver, the refusal is a failed query, not a hang.
    const neon = connect('postgres://u:p@192.0.2.1:5432/db');
    await expect(neon.db.$count(coupons)).rejects.toThrow();
    await neon.end();
  });

  describe('against a TCP server', () => {
    let tcp: Server;
    let port = 0;
    /** A proxy for the echo server only. */
    let echo: NeonProxy;
    const accepted: Socket[] = [];
    beforeAll(async () => {
      tcp = createServer((socket) => {
        accepted.push(socket);
        socket.on('data', (chunk) => socket.write(Buffer.concat([Buffer.from('echo:'), chunk])));
        socket.on('error', () => {});
      });
      await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
      port = (tcp.address() as { port: number }).port;
      echo = await startNeonProxy({ targets: [`127.0.0.1:${port}`] });
    });
    afterAll(async () => {
      await echo?.close();
      await new Promise<void>((r) => tcp.close(() => r()));
    });

    const open = async () => {
      const ws = new WebSocket(`${echo.url}/${echo.secret}/v1?address=127.0.0.1:${port}`);
      const frames: Buffer[] = [];
      // With the default binaryType ('nodebuffer') every message is one Buffer.
      ws.on('message', (data: RawData) => frames.push(data as Buffer));
      await new Promise<void>((r) => ws.on('open', () => (ws.send(Buffer.from('first')), r())));
      return { ws, frames };
    };

    it('relays raw bytes both ways', async () => {
      const { ws, frames } = await open();
      await eventually(async () => frames.length > 0);
      ws.send(Buffer.from([0, 1, 2, 255]));
      await eventually(async () => Buffer.concat(frames).length >= 'echo:first'.length + 9);
      expect(Buffer.concat(frames)).toEqual(Buffer.concat([Buffer.from('echo:first'), Buffer.from('echo:'), Buffer.from([0, 1, 2, 255])]));
      ws.close();
    });

    it('keeps what the client sends before the TCP side has connected', async () => {
      // The upgrade request and a first frame in one write: the proxy reads the frame in the
      // tick it accepts the WebSocket, before the TCP handshake with the target can finish.
      const raw = connectTcp(echo.port, '127.0.0.1');
      const payload = Buffer.from('early');
      const mask = Buffer.from([1, 2, 3, 4]);
      const frame = Buffer.concat([Buffer.from([0x82, 0x80 | payload.length]), mask, payload.map((b, i) => b ^ (mask[i % 4] ?? 0))]);
      const upgrade =
        `GET /${echo.secret}/v1?address=127.0.0.1:${port} HTTP/1.1\r\nHost: proxy\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${Buffer.alloc(16, 7).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
      raw.write(Buffer.concat([Buffer.from(upgrade), frame]));
      let received = Buffer.alloc(0);
      raw.on('data', (chunk) => (received = Buffer.concat([received, chunk])));
      const expected = Buffer.concat([Buffer.from([0x82, 'echo:early'.length]), Buffer.from('echo:early')]);
      await eventually(async () => received.includes(expected));
      expect(received.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
      raw.destroy();
    });

    it('closes the TCP side when the WebSocket closes', async () => {
      const before = accepted.length;
      const { ws, frames } = await open();
      await eventually(async () => frames.length > 0);
      let closed = false;
      accepted[before]?.once('close', () => (closed = true));
      ws.terminate(); // abrupt, as a dying isolate would: no Terminate message first
      await eventually(async () => closed);
    });

    it('closes the WebSocket when the target refuses the connection', async () => {
      const refused = await new Promise<Server>((r) => {
        const s = createServer();
        s.listen(0, '127.0.0.1', () => r(s));
      });
      const deadPort = (refused.address() as { port: number }).port;
      await new Promise<void>((r) => refused.close(() => r()));
      const toDead = await startNeonProxy({ targets: [`127.0.0.1:${deadPort}`] });
      try {
        let closed = false;
        new WebSocket(`${toDead.url}/${toDead.secret}/v1?address=127.0.0.1:${deadPort}`).once('close', () => (closed = true));
        await eventually(async () => closed);
      } finally {
        await toDead.close();
      }
    });

    it('closes the WebSocket when the TCP side closes', async () => {
      const before = accepted.length;
      const { ws, frames } = await open();
      await eventually(async () => frames.length > 0);
      let closed = false;
      ws.once('close', () => (closed = true));
      accepted[before]?.end();
      await eventually(async () => closed);
    });
  });
});
