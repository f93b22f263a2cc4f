/**
 * `storeFailure` on the errors the real drivers throw: a refused connection, a connect and a
 * query that hit their deadline, a backend terminated by the server, the Neon HTTP query path's
 * failed fetch and 5xx answers (all `database`), the
 * gauge's `StoreUnavailable` (`gauge`), and errors that are no outage at all (`null`).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { neon, neonConfig } from '@neondatabase/serverless';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../scripts/local/servers.js';
import { StoreUnavailable } from '../stock/errors.js';
import { storeFailure } from './store-failure.js';

/** What a promise rejected with. */
async function failure(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

/** A server that accepts connections and never says a word: a hung database. */
let silent: Server;
let silentPort: number;
const held = new Set<Socket>();
beforeAll(async () => {
  silent = createServer((socket) => void held.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const address = silent.address();
  silentPort = typeof address === 'object' && address ? address.port : 0;
});
afterAll(async () => {
  for (const socket of held) socket.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
});

describe('storeFailure', () => {
  it('reads a refused, a timed-out and a hung database connection as the database', async () => {
    const refused = await failure(async () => {
      const client = new pg.Client({ host: '127.0.0.1', port: await freePort(), connectionTimeoutMillis: 1_000 });
      await client.connect();
    });
    expect(storeFailure(refused)).toBe('database');

    const connectTimeout = await failure(() => new pg.Client({ host: '127.0.0.1', port: silentPort, connectionTimeoutMillis: 200 }).connect());
    expect(storeFailure(connectTimeout)).toBe('database');

    const pool = new pg.Pool({ host: '127.0.0.1', port: silentPort, connectionTimeoutMillis: 200 });
    pool.on('error', () => {});
    expect(storeFailure(await failure(() => pool.query('select 1')))).toBe('database');
    await pool.end();
  });

  it('reads a query past its deadline and a backend the server terminated as the database; a constraint violation as none', async () => {
    // A timed-out query still holds its connection until the server answers: a client of its own.
    const slow = new pg.Client({ connectionString: inject('postgresUrl'), query_timeout: 200 });
    await slow.connect();
    expect(storeFailure(await failure(() => slow.query('select pg_sleep(1)')))).toBe('database');
    await slow.end();
    const client = new pg.Client({ connectionString: inject('postgresUrl') });
    client.on('error', () => {});
    await client.connect();
    try {
      await client.query('create temp table t (id int primary key)');
      await client.query('insert into t values (1)');
      const duplicate = await failure(() => client.query('insert into t values (1)'));
      expect((duplicate as { code?: string }).code).toBe('23505');
      expect(storeFailure(duplicate)).toBeNull();
      const terminated = await failure(() => client.query('select pg_terminate_backend(pg_backend_pid())'));
      expect(storeFailure(terminated)).toBe('database');
    } finally {
      await client.end().catch(() => {});
    }
  });

  it('finds the failure behind a wrapper (Drizzle wraps query errors) and inside an AggregateError', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(storeFailure(new Error('Failed query: select 1', { cause: refused }))).toBe('database');
    expect(storeFailure(new AggregateError([new Error('x'), refused], 'connect failed'))).toBe('database');
    expect(storeFailure(new Error('Failed query', { cause: new Error('PGlite is closed') }))).toBe('database');
  });

  it("reads the Neon HTTP query path's unreachable endpoint and 5xx answers as the database, its 400s (Postgres errors) as none", async () => {
    // Nothing listens there: the fetch fails, as one aborted at its deadline does.
    const port = await freePort();
    const previous = neonConfig.fetchEndpoint;
    neonConfig.fetchEndpoint = `http://127.0.0.1:${port}/sql`;
    try {
      const unreachable = await failure(() => neon(`postgres://u:p@127.0.0.1:${port}/db`).query('select 1'));
      expect(String(unreachable)).toMatch(/Error connecting to database/);
      expect(storeFailure(new Error('Failed query: select 1', { cause: unreachable }))).toBe('database');
    } finally {
      neonConfig.fetchEndpoint = previous;
    }
    // The driver's own wording for an HTTP error status (its NeonDbError carries no code then).
    expect(storeFailure(new Error('Failed query', { cause: new Error('Server error (HTTP status 500): {"message":"Couldn\'t connect to compute node"}') }))).toBe('database');
    expect(storeFailure(new Error('Server error (HTTP status 503): upstream'))).toBe('database');
    expect(storeFailure(Object.assign(new Error('duplicate key value violates unique constraint "coupons_pkey"'), { code: '23505' }))).toBeNull();
  });

  it("reads the gauge's StoreUnavailable as the gauge, whatever its cause says", () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(storeFailure(new StoreUnavailable({ store: 'gauge', operation: 'take', deadlineMs: 300 }))).toBe('gauge');
    expect(storeFailure(new StoreUnavailable({ store: 'gauge', operation: 'read', cause }))).toBe('gauge');
  });

  it('reads other errors as no outage', () => {
    for (const error of [new TypeError("Cannot read properties of undefined (reading 'x')"), new Error('boom'), 'a string', null, undefined, { code: 42 }]) {
      expect(storeFailure(error)).toBeNull();
    }
  });
});
