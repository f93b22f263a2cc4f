import { defineConfig } from 'drizzle-kit';

/**
 * `npm run db:generate` (drizzle-kit generate) needs no database. The commands that connect
 * (`DATABASE_URL=… npx drizzle-kit migrate`, push, pull, studio) take it from DATABASE_URL, and
 * say so in one line when it is missing instead of drizzle-kit's "Either connection url or host…".
 */
const url = process.env.DATABASE_URL;
const connecting = ['migrate', 'push', 'pull', 'introspect', 'studio'].find((command) => process.argv.includes(command));
if (connecting && !url) {
  console.error(`drizzle-kit ${connecting} needs the database: DATABASE_URL=postgres://user:password@host/db npx drizzle-kit ${connecting}`);
  process.exit(1);
}

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/adapters/postgres/schema.ts',
  out: './drizzle',
  ...(url ? { dbCredentials: { url } } : {}),
});
