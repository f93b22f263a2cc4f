/**
 * Applies the migrations in `drizzle/` through the Neon driver (Node only: the migrator reads
 * files), so dev and tests can prepare a database over exactly the path the Worker uses.
 */
import { drizzle } from 'drizzle-orm/neon-serverless';
import { migrate } from 'drizzle-orm/neon-serverless/migrator';
import { createNeonPool, type NeonDbOptions } from '../../src/adapters/postgres/neon.js';
import { MIGRATIONS_FOLDER } from '../../src/adapters/postgres/pglite.js';

/** Migrates the database at `options.databaseUrl` and closes the connection it opened. */
export async function migrateThroughNeon(options: NeonDbOptions): Promise<void> {
  const pool = createNeonPool({ ...options, max: 1 });
  try {
    await migrate(drizzle({ client: pool }), { migrationsFolder: MIGRATIONS_FOLDER });
  } finally {
    await pool.end();
  }
}
