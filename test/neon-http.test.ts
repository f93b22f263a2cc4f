/**
 * The Neon driver's HTTP query path, as the Worker uses it for every one-shot statement: Drizzle
 * (`neon-http`) → `fetch` → the dev proxy's `POST /<secret>/sql` (Neon's protocol) → a real
 * PostgreSQL. What it answers (types, errors, batches, Neon's JSON conversions), that a query opens
 * no Postgres session of its own, that transactions and only they take the WebSocket pool, and
 * that a database that is down or hangs fails each query within its deadline as a database failure.
 */
import { eq, sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocket } from 'ws';
import { createNeonDb, type NeonDb } from '../src/adapters/postgres/neon.js';
import { coupons, stocks } from '../src/adapters/postgres/schema.js';
import { storeFailure } from '../src/http/store-failure.js';
import { startNeonProxy, targetOf, type NeonProxy } from '../scripts/neon-proxy/proxy.js';
import { postgresDb, type TestDb } from './support/db.js';
import { startFaultProxy } from './support/fault-proxy.js';
import { targetOf as hostPort, through } from './support/outage.js';

let proxy: NeonProxy;
let database: TestDb;
let admin: pg.Client;

beforeAll(async () => {
  database = await postgresDb();
  proxy = await startNeonProxy({ targets: [targetOf(database.url ?? '')] });
  admin = new pg.Client({ connectionString: inject('postgresUrl') });
  await admin.connect();
});
afterAll(async () => {
  await proxy?.close();
  await admin?.end();
  await database?.close();
});

const url = () => database.url ?? '';
const open = (options: Partial<Parameters<typeof createNeonDb>[0]> = {}): NeonDb =>
  createNeonDb({ databaseUrl: url(), wsProxy: proxy.wsProxy, webSocketConstructor: WebSocket, ...options });
const dbName = () => new URL(url()).pathname.slice(1);

/** Sessions PostgreSQL counted on the test database so far (connects are reported within ~1 s of activity, and at exit). */
async function sessionsOpened(): Promise<number> {
  await admin.query('select pg_stat_clear_snapshot()');
  const { rows } = await admin.query<{ n: string }>('select sessions as n from pg_stat_database where datname = $1', [dbName()]);
  return Number(rows[0]?.n);
}

/** POSTs a body to the proxy's /sql as a client would; returns status, headers and JSON. */
async function post(body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(proxy.fetchEndpoint, {
    method: 'POST',
    headers: { 'neon-connection-string': url(), 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}

const draft = (id: string) => ({ id, name: `http ${id}`, status: 'draft' as const, issueTotal: 7, createdAt: new Date('2026-02-03T04:05:06.789Z'), updatedAt: new Date('2026-02-03T04:05:06.789Z') });

describe('Drizzle over the HTTP query path', () => {
  it('reads and writes rows with the types node-postgres gives (timestamps, bigints, nulls, raw SQL)', async () => {
    const neon = open();
    try {
      const [inserted] = await neon.db.insert(coupons).values(draft('h-types')).returning();
      expect(inserted).toMatchObject({ id: 'h-types', issueTotal: 7, useTotal: null, statusVersion: 0 });
      expect(inserted?.createdAt.toISOString()).toBe('2026-02-03T04:05:06.789Z');
      const [row] = await neon.db.select().from(coupons).where(eq(coupons.id, 'h-types'));
      const [direct] = await database.db.select().from(coupons).where(eq(coupons.id, 'h-types'));
      expect(row).toEqual(direct);
      expect(await neon.db.$count(coupons, eq(coupons.id, 'h-types'))).toBe(1);
      const { rows } = (await neon.db.execute(sql`select 41 + 1 as answer, 'x'::text as t, null::int as nothing, 9007199254740993::int8 as big`)) as unknown as { rows: Record<string, unknown>[] };
      expect(rows).toEqual([{ answer: 42, t: 'x', nothing: null, big: '9007199254740993' }]);
      const updated = await neon.db.update(coupons).set({ name: 'renamed' }).where(eq(coupons.id, 'h-types')).returning({ name: coupons.name });
      expect(updated).toEqual([{ name: 'renamed' }]);
      expect(neon.pooled()).toBe(false);
    } finally {
      await neon.end();
    }
  });

  it('a Postgres error arrives with its SQLSTATE and fields, and is not a database failure', async () => {
    const neon = open();
    try {
      await neon.db.insert(coupons).values(draft('h-dup'));
      const error = await neon.db.insert(coupons).values(draft('h-dup')).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ cause: { code: '23505', constraint: 'coupons_pkey', severity: 'ERROR' } });
      expect(storeFailure(error)).toBeNull();
      const syntax = await neon.db.execute(sql`selec 1`).then(
        () => null,
        (e: unknown) => e,
      );
      expect(syntax).toMatchObject({ cause: { code: '42601', position: '1' } });
    } finally {
      await neon.end();
    }
  });

  it('transactions, and only they, take the WebSocket pool: commit and rollback as before', async () => {
    const neon = open();
    try {
      await neon.db.select().from(coupons).limit(1);
      expect(neon.pooled()).toBe(false);
      await neon.db.transaction(async (tx) => {
        await tx.insert(coupons).values(draft('h-tx'));
        await tx.insert(stocks).values({ key: 'h-tx:issue', scope: 'h-tx', name: 'issue', total: 7, remain: 7, syncedAt: new Date() });
      });
      expect(neon.pooled()).toBe(true);
      await expect(
        neon.db.transaction(async (tx) => {
          await tx.insert(coupons).values(draft('h-tx-rb'));
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      expect(await neon.db.$count(coupons, sql`${coupons.id} in ('h-tx', 'h-tx-rb')`)).toBe(1);
    } finally {
      await neon.end();
    }
    await expect(neon.db.transaction(async () => 1)).rejects.toThrow(/after calling end/);
  });

  it('opens no Postgres session per statement: 200 concurrent reads share the endpoint’s pool, which closes when idle', async () => {
    // A proxy of its own with a short idle time, so the test sees its pool fill and empty.
    const own = await startNeonProxy({ targets: [targetOf(url())], httpIdleMs: 1_000 });
    try {
      const before = await sessionsOpened();
      const queries = 200;
      for (let round = 0; round < queries / 20; round++) {
        const neon = open({ wsProxy: own.wsProxy });
        await Promise.all(Array.from({ length: 20 }, () => neon.db.select({ id: coupons.id }).from(coupons).where(eq(coupons.id, 'h-types'))));
        await neon.end();
      }
      expect(own.httpConnections()).toBeGreaterThan(0);
      expect(own.httpConnections()).toBeLessThanOrEqual(10);
      // A backend reports its connect when its first transaction ends.
      await new Promise((r) => setTimeout(r, 200));
      const opened = (await sessionsOpened()) - before;
      console.log(`neon http: ${queries} statements opened ${opened} Postgres sessions`);
      expect(opened).toBeGreaterThan(0);
      expect(opened).toBeLessThanOrEqual(10);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(own.httpConnections()).toBe(0);
    } finally {
      await own.close();
    }
  });
});

describe("the proxy's /sql speaks Neon's protocol", () => {
  it('answers one query as Neon does: rowAsArray, fields, raw text rows, command, rowCount', async () => {
    const res = await post({ query: 'select $1::int as n, $2::text as t, $3::bool as b', params: [5, 'five', true] }, { 'neon-raw-text-output': 'true', 'neon-array-mode': 'true' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      rowAsArray: true,
      fields: [
        { name: 'n', dataTypeID: 23, tableID: 0, columnID: 0, dataTypeSize: 4, dataTypeModifier: -1, format: 'text' },
        { name: 't', dataTypeID: 25, tableID: 0, columnID: 0, dataTypeSize: -1, dataTypeModifier: -1, format: 'text' },
        { name: 'b', dataTypeID: 16, tableID: 0, columnID: 0, dataTypeSize: 1, dataTypeModifier: -1, format: 'text' },
      ],
      rows: [['5', 'five', 't']],
      command: 'SELECT',
      rowCount: 1,
    });
  });

  it('without raw text, converts as Neon does: booleans, int2/int4, finite floats, JSON and their arrays; int8 and NaN stay text', async () => {
    const res = await post({
      query: `select true as b, 7::int2 as s, 8 as i, 9::int8 as big, 1.5::float8 as f, 'NaN'::float8 as nan, '{"a":[1,null]}'::jsonb as j,
                     array[1,null,3] as ints, array['x','y,z',null] as texts, array[[true],[false]] as nested, 12.50::numeric as money`,
    });
    expect(res.json.rows).toEqual([{ b: true, s: 7, i: 8, big: '9', f: 1.5, nan: 'NaN', j: { a: [1, null] }, ints: [1, null, 3], texts: '{x,"y,z",NULL}', nested: [[true], [false]], money: '12.50' }]);
    expect(res.json.rowAsArray).toBe(false);
  });

  it('passes JSON parameters as Neon does: numbers and booleans as text, arrays as Postgres arrays, objects as JSON', async () => {
    const res = await post(
      { query: 'select $1::int[] as a, $2::jsonb as o, $3::text as n, $4::text[] as s, $5::text as nothing', params: [[1, 2, 3], { k: 'v' }, 1.25, ['a"b', null], null] },
      { 'neon-raw-text-output': 'true' },
    );
    expect(res.json.rows).toEqual([{ a: '{1,2,3}', o: '{"k": "v"}', n: '1.25', s: '{"a\\"b",NULL}', nothing: null }]);
  });

  it('runs a batch in one transaction with its options, and rolls all of it back on an error', async () => {
    const ok = await post(
      { queries: [{ query: 'select 1 as one' }, { query: 'select current_setting($1) as level', params: ['transaction_isolation'] }] },
      { 'neon-raw-text-output': 'true', 'neon-batch-isolation-level': 'Serializable', 'neon-batch-read-only': 'true' },
    );
    expect(ok.status).toBe(200);
    expect((ok.json.results as { rows: unknown[] }[]).map((r) => r.rows)).toEqual([[{ one: '1' }], [{ level: 'serializable' }]]);
    expect(ok.headers.get('neon-batch-isolation-level')).toBe('Serializable');
    expect(ok.headers.get('neon-batch-read-only')).toBe('true');

    const failed = await post({
      queries: [
        { query: "insert into coupons (id, name, status, created_at, updated_at) values ('h-batch', 'b', 'draft', now(), now())" },
        { query: "insert into coupons (id, name, status, created_at, updated_at) values ('h-batch', 'b', 'draft', now(), now())" },
      ],
    });
    expect(failed.status).toBe(400);
    expect(failed.json).toMatchObject({ code: '23505', severity: 'ERROR', constraint: 'coupons_pkey' });
    expect(String(failed.json.message)).toMatch(/duplicate key/);
    expect(await database.db.$count(coupons, eq(coupons.id, 'h-batch'))).toBe(0);

    expect((await post({ queries: [] }, { 'neon-batch-isolation-level': 'Sometimes' })).status).toBe(400);
  });

  it('refuses what Neon refuses: no connection string, another database server, a body that is no query', async () => {
    const noString = await fetch(proxy.fetchEndpoint, { method: 'POST', body: '{"query":"select 1"}' });
    expect(noString.status).toBe(400);
    const elsewhere = await post({ query: 'select 1' }, { 'neon-connection-string': 'postgres://u:p@10.0.0.1:5432/db' });
    expect(elsewhere.status).toBe(403);
    expect((await post({ nothing: true })).status).toBe(400);
    expect((await fetch(proxy.fetchEndpoint, { method: 'GET' })).status).toBe(405);
  });
});

describe('a database that is down or hangs, behind the HTTP path', () => {
  it('fails each statement within its deadline, as a database failure (503, not 500)', async () => {
    const fault = await startFaultProxy(hostPort(url()));
    const faulted = through(url(), fault);
    const own = await startNeonProxy({ targets: [targetOf(faulted)] });
    const neon = createNeonDb({ databaseUrl: faulted, wsProxy: own.wsProxy, webSocketConstructor: WebSocket, timeoutMs: 700 });
    try {
      expect(await neon.db.$count(coupons)).toBeGreaterThanOrEqual(0);
      for (const mode of ['down', 'hang'] as const) {
        await fault.set(mode);
        const started = performance.now();
        const error = await neon.db.select().from(coupons).limit(1).then(
          () => null,
          (e: unknown) => e,
        );
        const ms = performance.now() - started;
        expect(storeFailure(error), `${mode}: ${String(error)}`).toBe('database');
        expect(ms, mode).toBeLessThan(700 + 1_500);
        await fault.set('pass');
      }
    } finally {
      await neon.end();
      await own.close();
      await fault.close();
    }
  });
});
