/**
 * Embedded Postgres for `npm start` and tests: PGlite in a directory (or in memory), with the
 * migrations in `drizzle/` applied. Node only (the migrator reads files).
 */
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.js';
import * as schema from './schema.js';

/** The folder holding the generated migrations. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../../drizzle', import.meta.url));

export interface EmbeddedDb {
  db: Db;
  client: PGlite;
  close(): Promise<void>;
}

/** Opens PGlite at `dataDir` (`undefined` = in memory) and applies pending migrations. */
export async function openEmbedded(dataDir?: string): Promise<EmbeddedDb> {
  const client = dataDir ? new PGlite(dataDir) : new PGlite();
  await client.waitReady;
  const db = drizzle({ client, schema });
  await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  return { db, client, close: () => client.close() };
}
