/**
 * The database handle every Postgres adapter takes: any Drizzle Postgres driver (PGlite,
 * node-postgres, Neon serverless) with the project's schema.
 */
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type * as schema from './schema.js';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
