/**
 * Postgres for the benchmark: embedded PGlite (the `npm start` default) in the run's
 * directory, and optionally a throw-away database on a real PostgreSQL (the local one, the one
 * `DATABASE_URL` names, or a private one — `ensurePostgres`), dropped at the end.
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { join } from 'node:path';
import pg from 'pg';
import type { Db } from '../src/adapters/postgres/db.js';
import { MIGRATIONS_FOLDER, openEmbedded } from '../src/adapters/postgres/pglite.js';
import * as schema from '../src/adapters/postgres/schema.js';
import { ensurePostgres } from '../scripts/local/servers.js';
import type { Stack } from './stack.js';

export interface OpenDb {
  db: Db;
  close(): Promise<void>;
}

/**
 * PGlite where the service's `DATA_DIR` will have it (`<dir>/pglite`): opening it here first
 * pays the one-time initdb once for the whole run.
 */
export async function openPglite(stack: Stack): Promise<OpenDb> {
  const embedded = await openEmbedded(join(stack.dir, 'pglite'));
  return { db: embedded.db, close: embedded.close };
}

export interface BenchDatabase {
  url: string;
  /** The server's admin URL (database `postgres`), for `pg_stat_database`. */
  adminUrl: string;
  /** PostgreSQL's version, for the report. */
  version: string;
  open(): Promise<OpenDb>;
}

/** A fresh database on a real PostgreSQL, migrated; dropped when the stack stops. */
export async function createDatabase(stack: Stack): Promise<BenchDatabase> {
  const server = await ensurePostgres();
  stack.add(server);
  const name = `cs_bench_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  const version = String(((await admin.query('show server_version')).rows[0] as { server_version?: string } | undefined)?.server_version ?? '?');
  await admin.query(`create database ${name}`);
  await admin.end();
  stack.add({
    stop: async () => {
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  });
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  const open = async (): Promise<OpenDb> => {
    // The pool size the Node host uses, so the gauge layer sees what the service would.
    const pool = new pg.Pool({ connectionString: url.toString(), max: 10 });
    const db = drizzle({ client: pool, schema });
    await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
    return { db, close: () => pool.end() };
  };
  return { url: url.toString(), adminUrl: server.url, version, open };
}
