/**
 * Databases for tests: PGlite in memory, and a real PostgreSQL (a fresh database per call,
 * dropped at close) on the server the global setup found or started (`test/support/servers.ts`).
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { inject } from 'vitest';
import type { Db } from '../../src/adapters/postgres/db.js';
import { MIGRATIONS_FOLDER, openEmbedded } from '../../src/adapters/postgres/pglite.js';
import * as schema from '../../src/adapters/postgres/schema.js';
import { runReadmeMigrate } from './readme.js';

export interface TestDb {
  name: string;
  db: Db;
  /** Connection URL of the database (`null` for PGlite in memory). */
  url: string | null;
  close(): Promise<void>;
}

export async function pgliteDb(): Promise<TestDb> {
  const embedded = await openEmbedded();
  return { name: 'pglite', db: embedded.db, url: null, close: embedded.close };
}

export interface PostgresDbOptions {
  /**
   * How the fresh database is migrated: `drizzle-orm`'s migrator in process (default), or the
   * README's deploy command (`DATABASE_URL=… npx drizzle-kit migrate`, run as written).
   */
  migrate?: 'in-process' | 'readme';
}

/** Creates a fresh database on the real server (found or started by the global setup), migrated. */
export async function postgresDb(options: PostgresDbOptions = {}): Promise<TestDb> {
  const serverUrl = inject('postgresUrl');
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const dbName = `cs_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(serverUrl);
  url.pathname = `/${dbName}`;
  if (options.migrate === 'readme') await runReadmeMigrate(url.toString());
  const pool = new pg.Pool({ connectionString: url.toString(), max: 10 });
  const db = drizzle({ client: pool, schema });
  if (options.migrate !== 'readme') await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  return {
    name: 'postgresql',
    db,
    url: url.toString(),
    close: async () => {
      // pool.end() resolves before its connections have closed; a forced drop would then
      // terminate them and the pool would raise an unhandled 57P01. Wait for them to leave.
      pool.on('error', () => {});
      await pool.end();
      for (let i = 0; i < 50; i++) {
        const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [dbName]);
        if (rows[0]?.n === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** Every database a store-level suite runs against. */
export const DATABASES: { name: string; open: () => Promise<TestDb> }[] = [
  { name: 'pglite', open: pgliteDb },
  { name: 'postgresql', open: postgresDb },
];
