/**
 * The Node host's pool when the database connection breaks (a failover, a cut): a BEGIN that
 * fails never leaks its client (drizzle releases a transaction's client only after BEGIN
 * succeeded), and a client that breaks while checked out is reported, never a crash.
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodePool } from '../src/adapters/postgres/node-pool.js';
import { postgresDb, type TestDb } from './support/db.js';

describe('the Node host pool on a real PostgreSQL', () => {
  let database: TestDb;
  let admin: pg.Client;
  beforeAll(async () => {
    database = await postgresDb();
    admin = new pg.Client({ connectionString: database.url ?? '' });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await database?.close();
  });

  const kill = (pid: number) => admin.query('select pg_terminate_backend($1)', [pid]);
  const pidOf = async (client: pg.PoolClient) => Number((await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid);
  /** Ends every session of the pool under test (by its application name), without a query on its clients. */
  const killAll = () => admin.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'node-pool-test'");

  it('gives back a client whose BEGIN failed because its connection broke', async () => {
    const errors: Error[] = [];
    const pool = nodePool({ connectionString: database.url ?? '', max: 2, application_name: 'node-pool-test' }, (e) => void errors.push(e));
    const db = drizzle({ client: pool });
    try {
      // A pooled connection whose backend dies while idle; drizzle's next transaction gets it.
      const warm = await pool.connect();
      const pid = await pidOf(warm);
      warm.release();
      await kill(pid);
      for (let i = 0; i < 5 && pool.idleCount > 0; i++) await new Promise((r) => setTimeout(r, 50));
      // Two connections at most: if failed transactions leaked their clients, the pool would run dry.
      for (let i = 0; i < 6; i++) {
        const client = await pool.connect();
        await killAll();
        // drizzle's transaction() as it runs: connect, BEGIN (fails), never release.
        await expect(client.query('begin')).rejects.toThrow();
        await new Promise((r) => setImmediate(r));
        expect(pool.totalCount - pool.idleCount, 'clients still checked out').toBe(0);
      }
      expect(await db.transaction(async (tx) => (await tx.execute(sql`select 1 as one`)).rows[0])).toEqual({ one: 1 });
    } finally {
      await pool.end();
    }
  });

  it('reports a client that breaks while checked out instead of ending the process', async () => {
    const errors: Error[] = [];
    const pool = nodePool({ connectionString: database.url ?? '', max: 2, application_name: 'node-pool-test' }, (e) => void errors.push(e));
    try {
      const client = await pool.connect();
      await client.query('begin');
      await kill(await pidOf(client));
      for (let i = 0; i < 100 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(errors.length).toBeGreaterThan(0);
      client.release(errors[0]);
    } finally {
      await pool.end();
    }
  });
});
