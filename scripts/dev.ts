/**
 * `npm run dev`: the production path on this machine. Starts what `.dev.vars` does not name —
 * a redis-server (REDIS_URL or a private one) behind the local Upstash REST endpoint, and a
 * PostgreSQL (DATABASE_URL, or an embedded PGlite served over the Postgres protocol) behind the
 * proxy the Neon driver needs (WebSocket and HTTP queries), migrations applied — then `wrangler dev
 * --test-scheduled` with the bindings. PORT, ADMIN_API_TOKEN and CLIENT_API_TOKEN are honoured
 * as by `npm start`; `GET /__scheduled?cron=*+*+*+*+*` runs the Cron Trigger.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { MIGRATIONS_FOLDER } from '../src/adapters/postgres/pglite.js';
import { describeTokens, loadTokens, parseEnv } from '../src/node/config.js';
import { PGLITE_HTTP_POOL, startPgliteServer } from './neon-proxy/pglite-server.js';
import { startNeonProxy, targetOf } from './neon-proxy/proxy.js';
import { readDevVars } from './local/dev-vars.js';
import { ensureRedis, freePort } from './local/servers.js';
import { startUpstashRest } from './upstash-rest/server.js';

async function migrateUrl(url: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    await migrate(drizzle({ client: pool }), { migrationsFolder: MIGRATIONS_FOLDER });
  } finally {
    await pool.end();
  }
}

const say = (line: string) => console.log(`dev: ${line}`);

const stops: (() => Promise<void>)[] = [];

/** Stops what this script started, newest first. */
async function stopAll(): Promise<void> {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
}

async function main(): Promise<void> {
  const parsed = parseEnv(process.env);
  if (!parsed.ok) throw new Error(parsed.message);
  const config = parsed.config;
  const devVars = readDevVars(resolve('.dev.vars'));
  const vars: Record<string, string> = {};
  mkdirSync(resolve(config.DATA_DIR), { recursive: true });

  if (!devVars.UPSTASH_REDIS_REST_URL) {
    const redis = await ensureRedis();
    stops.push(redis.stop);
    const token = randomBytes(16).toString('hex');
    const rest = await startUpstashRest({ redisUrl: redis.url, token, port: await freePort(), host: '127.0.0.1' });
    stops.push(rest.close);
    vars.UPSTASH_REDIS_REST_URL = rest.url;
    vars.UPSTASH_REDIS_REST_TOKEN = token;
    say(`redis ${redis.url} (${redis.started ? 'private' : 'REDIS_URL'}) behind the Upstash REST endpoint ${rest.url}`);
  }

  if (!devVars.DATABASE_URL) {
    let databaseUrl = config.DATABASE_URL;
    if (databaseUrl) {
      await migrateUrl(databaseUrl);
      say('PostgreSQL from DATABASE_URL, migrated');
    } else {
      const pglite = await startPgliteServer({ dataDir: resolve(config.DATA_DIR, 'dev-pglite'), port: await freePort() });
      stops.push(pglite.close);
      databaseUrl = pglite.url;
      say(`embedded PGlite served at ${pglite.url}, migrated`);
    }
    // Only to this database, only with this start's secret, never for a browser page. PGlite runs
    // one query at a time: a few pooled connections for the HTTP query path are plenty.
    const proxy = await startNeonProxy({ port: await freePort(), host: '127.0.0.1', targets: [targetOf(databaseUrl)], ...(config.DATABASE_URL ? {} : { httpPoolMax: PGLITE_HTTP_POOL }) });
    stops.push(proxy.close);
    vars.DATABASE_URL = databaseUrl;
    vars.NEON_WS_PROXY = proxy.wsProxy;
    say(`Neon proxy ${proxy.url} (WebSocket and HTTP queries) for ${targetOf(databaseUrl)} (secret path, no browser origins)`);
  }

  if (!devVars.ADMIN_API_TOKEN || !devVars.CLIENT_API_TOKEN) {
    const tokens = await loadTokens(config);
    vars.ADMIN_API_TOKEN = devVars.ADMIN_API_TOKEN ?? tokens.admin;
    vars.CLIENT_API_TOKEN = devVars.CLIENT_API_TOKEN ?? tokens.client;
    // Printed once, when generated; afterwards only where they are (as `npm start`).
    for (const line of describeTokens({ ...tokens, sources: { admin: devVars.ADMIN_API_TOKEN ? 'environment' : tokens.sources.admin, client: devVars.CLIENT_API_TOKEN ? 'environment' : tokens.sources.client } })) say(line.trim());
  }

  // Development: webhooks may go to a receiver on this machine, unless .dev.vars or the environment say otherwise.
  if (!devVars.WEBHOOK_ALLOW_PRIVATE) {
    const allow = process.env.WEBHOOK_ALLOW_PRIVATE ? config.WEBHOOK_ALLOW_PRIVATE : true;
    vars.WEBHOOK_ALLOW_PRIVATE = String(allow);
    say(allow ? 'webhooks may target receivers on this machine (WEBHOOK_ALLOW_PRIVATE=true)' : 'webhooks: public targets only');
  }

  const args = ['dev', '--test-scheduled', '--port', String(config.PORT), '--ip', '127.0.0.1', '--show-interactive-dev-session=false'];
  for (const [key, value] of Object.entries(vars)) args.push('--var', `${key}:${value}`);
  const wrangler = spawn(resolve('node_modules/.bin/wrangler'), args, { stdio: 'inherit' });
  say(`wrangler dev on http://127.0.0.1:${config.PORT} (Cron Trigger: /__scheduled?cron=*+*+*+*+*)`);

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => wrangler.kill(signal));
  }
  const code = await new Promise<number>((done) => wrangler.once('exit', (c) => done(c ?? 0)));
  await stopAll();
  process.exit(code);
}

main().catch(async (error: unknown) => {
  console.error(`dev: ${error instanceof Error ? error.message : String(error)}`);
  await stopAll();
  process.exit(1);
});
