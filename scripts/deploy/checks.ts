/**
 * What a deploy needs, checked from the values it will run with (`npm run check:deploy`): every
 * binding the Worker parses, then the stores as the Worker will reach them — Redis through the
 * Upstash REST URL and token (PING, and its eviction policy where Redis reports it), Postgres
 * through Neon's HTTP query path (reachable, and every migration in `drizzle/` applied). Each
 * problem is one line that says what to fix; values are never printed, hosts only.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { createNeonDb } from '../../src/adapters/postgres/neon.js';
import { MIGRATIONS_FOLDER } from '../../src/adapters/postgres/pglite.js';
import { evictionPolicy, mayEvict } from '../../src/adapters/redis/eviction.js';
import { redisClient } from '../../src/adapters/redis/redis-gauge.js';
import { WorkerEnv, type WorkerConfig } from '../../src/worker/env.js';

export interface Finding {
  /** `ok`: checked and fine; `problem`: the deploy would fail or misbehave; `note`: could not be checked, or local only. */
  level: 'ok' | 'problem' | 'note';
  /** One line: what was found and, for a problem, what to fix. */
  line: string;
}

/** Secrets the README's deploy section puts with `wrangler secret put`. */
export const SECRETS = ['UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN', 'DATABASE_URL', 'ADMIN_API_TOKEN', 'CLIENT_API_TOKEN'] as const;

const isSecret = (key: string) => (SECRETS as readonly string[]).includes(key);
const fixFor = (key: string) => (isSecret(key) ? `set it with \`npx wrangler secret put ${key}\`` : `fix it in wrangler.toml [vars]`);
const hostOf = (url: string) => {
  try {
    return new URL(url).host;
  } catch {
    return '?';
  }
};
const loopback = (url: string) => /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(hostOf(url));
const reason = (error: unknown): string => {
  const parts: string[] = [];
  for (let e: unknown = error; e !== undefined && parts.length < 3; e = e instanceof Error ? e.cause : undefined) parts.push(e instanceof Error ? e.message.split('\n')[0] ?? '' : String(e));
  return parts.filter(Boolean).join(' <- ').slice(0, 240);
};

/** The bindings as the Worker parses them; a problem per missing or bad value. */
function configuration(vars: Record<string, unknown>): { config: WorkerConfig | null; findings: Finding[] } {
  const parsed = WorkerEnv.safeParse(vars);
  if (!parsed.success) {
    const findings = parsed.error.issues.map((issue): Finding => {
      const key = issue.path.join('.');
      const missing = vars[key] === undefined || vars[key] === '';
      return { level: 'problem', line: `${key}: ${missing ? 'missing' : issue.message} — ${fixFor(key)}` };
    });
    return { config: null, findings };
  }
  const config = parsed.data;
  const findings: Finding[] = [{ level: 'ok', line: `configuration: every binding the Worker needs is there and parses` }];
  if (config.ADMIN_API_TOKEN === config.CLIENT_API_TOKEN) {
    findings.push({ level: 'problem', line: 'ADMIN_API_TOKEN and CLIENT_API_TOKEN are the same: a client could call admin routes — put two different tokens (e.g. `openssl rand -base64 32`)' });
  }
  if (new URL(config.UPSTASH_REDIS_REST_URL).protocol !== 'https:' && !loopback(config.UPSTASH_REDIS_REST_URL)) {
    findings.push({ level: 'problem', line: `UPSTASH_REDIS_REST_URL: ${hostOf(config.UPSTASH_REDIS_REST_URL)} is not https — use the https:// REST URL the Upstash console shows` });
  }
  const db = new URL(config.DATABASE_URL);
  if (db.protocol !== 'postgres:' && db.protocol !== 'postgresql:') {
    findings.push({ level: 'problem', line: `DATABASE_URL: must be a postgres:// connection string (${db.protocol} given) — copy it from the Neon console` });
  } else if (!db.username || db.pathname.length < 2) {
    findings.push({ level: 'problem', line: 'DATABASE_URL: names no user or no database — copy the whole connection string from the Neon console' });
  } else if (db.hostname.endsWith('.neon.tech') && db.searchParams.get('sslmode') !== 'require') {
    findings.push({ level: 'problem', line: 'DATABASE_URL: a Neon connection string needs ?sslmode=require (drizzle-kit migrate connects over TCP) — append it' });
  }
  if (config.NEON_WS_PROXY !== undefined) {
    findings.push({ level: 'note', line: 'NEON_WS_PROXY is set: Postgres is reached through a local dev proxy — never set it in production' });
  }
  // Against local stores (a dev setup) private webhook targets are expected; against real ones not.
  if (config.WEBHOOK_ALLOW_PRIVATE && !loopback(config.UPSTASH_REDIS_REST_URL)) {
    findings.push({ level: 'problem', line: 'WEBHOOK_ALLOW_PRIVATE is true: development only — remove it (webhooks must go to public addresses)' });
  }
  return { config, findings };
}

async function redis(config: WorkerConfig): Promise<Finding[]> {
  const host = hostOf(config.UPSTASH_REDIS_REST_URL);
  try {
    const answer = await redisClient({ url: config.UPSTASH_REDIS_REST_URL, token: config.UPSTASH_REDIS_REST_TOKEN, retries: 0, timeoutMs: config.STORE_TIMEOUT_MS }).ping();
    if (answer !== 'PONG') throw new Error(`PING answered ${String(answer)}`);
  } catch (error) {
    const unauthorized = /unauthori[sz]ed|401|WRONGPASS|invalid token/i.test(reason(error));
    return [
      {
        level: 'problem',
        line: `Redis at ${host} did not answer PING (${reason(error)}) — ${unauthorized ? 'check UPSTASH_REDIS_REST_TOKEN' : 'check UPSTASH_REDIS_REST_URL (the database’s REST URL)'}`,
      },
    ];
  }
  const findings: Finding[] = [{ level: 'ok', line: `Redis at ${host} answers PING` }];
  const policy = await evictionPolicy(config.UPSTASH_REDIS_REST_URL, config.UPSTASH_REDIS_REST_TOKEN);
  if (policy === null) {
    findings.push({ level: 'note', line: 'Redis eviction: not reported (Upstash refuses CONFIG) — keep the database’s Eviction option off (its default) and the plan large enough' });
  } else if (mayEvict(policy)) {
    findings.push({ level: 'problem', line: `Redis eviction: maxmemory-policy is ${policy}, which may delete counters and idempotency records — set noeviction (turn Eviction off)` });
  } else {
    findings.push({ level: 'ok', line: `Redis eviction: maxmemory-policy ${policy}` });
  }
  return findings;
}

async function postgres(config: WorkerConfig, migrationsFolder: string): Promise<Finding[]> {
  const host = hostOf(config.DATABASE_URL);
  const neon = createNeonDb({ databaseUrl: config.DATABASE_URL, wsProxy: config.NEON_WS_PROXY, timeoutMs: config.STORE_TIMEOUT_MS });
  try {
    try {
      await neon.db.execute(sql`select 1`);
    } catch (error) {
      return [{ level: 'problem', line: `Postgres at ${host} did not answer over Neon's HTTP query path (${reason(error)}) — check DATABASE_URL` }];
    }
    const findings: Finding[] = [{ level: 'ok', line: `Postgres at ${host} answers over Neon's HTTP query path` }];
    const expected = readMigrationFiles({ migrationsFolder });
    const tags = journalTags(migrationsFolder);
    let applied: number[] = [];
    try {
      const result = (await neon.db.execute(sql`select created_at from drizzle.__drizzle_migrations`)) as unknown as { rows: { created_at: string | number }[] };
      applied = result.rows.map((r) => Number(r.created_at));
    } catch (error) {
      // A database never migrated has no drizzle schema: nothing applied.
      if (!/does not exist/.test(reason(error))) return [...findings, { level: 'problem', line: `Postgres migrations: cannot read drizzle.__drizzle_migrations (${reason(error)}) — check the role's rights` }];
    }
    // Drizzle applies every migration newer than the last one recorded.
    const last = Math.max(0, ...applied);
    const missing = expected.map((m, i) => ({ at: m.folderMillis, tag: tags[i] ?? String(m.folderMillis) })).filter((m) => m.at > last);
    if (missing.length === 0) {
      findings.push({ level: 'ok', line: `Postgres migrations: all ${expected.length} in drizzle/ applied (latest ${tags[tags.length - 1] ?? '?'})` });
    } else {
      findings.push({
        level: 'problem',
        line: `Postgres migrations: ${expected.length - missing.length} of ${expected.length} applied, missing ${missing.map((m) => m.tag).join(', ')} — run \`DATABASE_URL=… npx drizzle-kit migrate\``,
      });
    }
    return findings;
  } finally {
    await neon.end();
  }
}

/** Migration names in journal order. */
function journalTags(migrationsFolder: string): string[] {
  // readMigrationFiles reads the same journal; its answer carries no names.
  const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };
  return journal.entries.map((e) => e.tag);
}

/** Every check, in order; the stores only once the configuration parses. */
export async function checkDeploy(vars: Record<string, unknown>, options: { migrationsFolder?: string } = {}): Promise<Finding[]> {
  const { config, findings } = configuration(vars);
  if (!config) return findings;
  const [r, p] = await Promise.all([redis(config), postgres(config, options.migrationsFolder ?? MIGRATIONS_FOLDER)]);
  return [...findings, ...r, ...p];
}
