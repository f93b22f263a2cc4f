/**
 * The README's deploy section, run as written wherever no Cloudflare account is needed: the
 * migration command on a fresh PostgreSQL database, `npm run check:deploy` on the values a deploy
 * would use (and what it says about bad ones), `wrangler deploy --dry-run --outdir` (the bundle
 * builds; its size is reported), and the bundle it wrote, in workerd, against the migrated
 * database through a create, confirm, issue and sync flow. Only `wrangler secret put` and the
 * upload are left out.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { Miniflare } from 'miniflare';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { MIGRATIONS_FOLDER } from '../src/adapters/postgres/pglite.js';
import { WorkerEnv } from '../src/worker/env.js';
import { checkDeploy, SECRETS, type Finding } from '../scripts/deploy/checks.js';
import { startNeonProxy, targetOf, type NeonProxy } from '../scripts/neon-proxy/proxy.js';
import { startUpstashRest, type UpstashRest } from '../scripts/upstash-rest/server.js';
import { postgresDb, type TestDb } from './support/db.js';
import { startPrivateRedis } from './support/redis-server.js';
import { deployCommand, readmeCommands, ROOT, runReadmeMigrate } from './support/readme.js';

const run = promisify(execFile);
const DEPLOY = 'Deploying to Cloudflare Workers';
const REDIS_TOKEN = 'deploy-upstash-token';
const ADMIN = 'deploy-admin-token-0123456789';
const CLIENT = 'deploy-client-token-0123456789';

let database: TestDb;
let rest: UpstashRest;
let proxy: NeonProxy;
let dir: string;
/** What `wrangler secret put` would store, and the local proxy the Worker needs here. */
let vars: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-deploy-'));
  [database, rest] = await Promise.all([postgresDb({ migrate: 'readme' }), startUpstashRest({ redisUrl: inject('redisUrl'), token: REDIS_TOKEN })]);
  proxy = await startNeonProxy({ targets: [targetOf(database.url ?? '')] });
  vars = {
    UPSTASH_REDIS_REST_URL: rest.url,
    UPSTASH_REDIS_REST_TOKEN: REDIS_TOKEN,
    DATABASE_URL: database.url ?? '',
    ADMIN_API_TOKEN: ADMIN,
    CLIENT_API_TOKEN: CLIENT,
    NEON_WS_PROXY: proxy.wsProxy,
  };
}, 120_000);
afterAll(async () => {
  await proxy?.close();
  await rest?.close();
  await database?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const envFile = async (name: string, values: Record<string, string>) => {
  const path = join(dir, name);
  await writeFile(path, Object.entries(values).map(([k, v]) => `${k}=${v}`).join('\n'));
  return path;
};
const problems = (findings: Finding[]) => findings.filter((f) => f.level === 'problem').map((f) => f.line);

describe("the README's deploy section", () => {
  it('puts exactly the secrets the Worker requires', () => {
    const put = readmeCommands(DEPLOY).flatMap((line) => /^npx wrangler secret put (\w+)$/.exec(line)?.[1] ?? []);
    const required = Object.entries(WorkerEnv.shape).filter(([, schema]) => !schema.safeParse(undefined).success).map(([key]) => key);
    expect(put.sort()).toEqual([...required].sort());
    expect([...SECRETS].sort()).toEqual(put.sort());
  });

  it('migrates a fresh database with `DATABASE_URL=… npx drizzle-kit migrate` as written: every migration in drizzle/', async () => {
    // beforeAll ran the command; here is what it left.
    const count = async (query: ReturnType<typeof sql>) => Number(((await database.db.execute(query)) as unknown as { rows: { n: string }[] }).rows[0]?.n);
    expect(await count(sql`select count(*) as n from drizzle.__drizzle_migrations`)).toBe(readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER }).length);
    expect(await count(sql`select count(*) as n from information_schema.tables where table_schema = 'public'`)).toBeGreaterThanOrEqual(11);
    // Run again on a migrated database: nothing to do, no error.
    const again = await runReadmeMigrate(database.url ?? '');
    expect(again.stdout + again.stderr).toMatch(/migrations applied successfully/);
  });

  it('without DATABASE_URL, `drizzle-kit migrate` says in one line what it needs, and `npm run db:generate` still works', async () => {
    const env = { ...process.env };
    delete env.DATABASE_URL;
    const refused = await run('npx', ['drizzle-kit', 'migrate'], { cwd: ROOT, env }).then(
      () => null,
      (e: { code?: number; stderr?: string }) => e,
    );
    expect(refused?.code).toBe(1);
    expect(refused?.stderr?.trim().split('\n').at(-1)).toBe('drizzle-kit migrate needs the database: DATABASE_URL=postgres://user:password@host/db npx drizzle-kit migrate');
    // The schema and drizzle/ agree, so generate writes nothing (a diff here is a migration someone forgot).
    const generated = await run('npm', ['run', 'db:generate'], { cwd: ROOT, env });
    expect(generated.stdout).toMatch(/No schema changes, nothing to migrate/);
  });

  it('check:deploy passes a ready configuration, one line per check', async () => {
    const file = await envFile('ready.vars', vars);
    const command = deployCommand(/^npm run check:deploy/);
    const { stdout } = await run('sh', ['-c', `${command} -- --env-file '${file}'`], { cwd: ROOT });
    console.log(`check:deploy, ready:\n${stdout}`);
    expect(stdout).toMatch(/✓ configuration: every binding/);
    expect(stdout).toMatch(/✓ Redis at 127\.0\.0\.1:\d+ answers PING/);
    expect(stdout).toMatch(/✓ Redis eviction: maxmemory-policy noeviction/);
    expect(stdout).toMatch(/✓ Postgres at 127\.0\.0\.1:\d+ answers over Neon's HTTP query path/);
    expect(stdout).toMatch(/✓ Postgres migrations: all \d+ in drizzle\/ applied/);
    expect(stdout).toMatch(/check:deploy: ready to deploy/);
    expect(stdout).not.toContain(ADMIN);
    expect(stdout).not.toContain(REDIS_TOKEN);
  });

  it('check:deploy names each problem and its fix in one line, and exits 1', async () => {
    const file = await envFile('bad.vars', { ...vars, ADMIN_API_TOKEN: 'short', UPSTASH_REDIS_REST_TOKEN: 'wrong-token' });
    const failed = await run('npm', ['run', '--silent', 'check:deploy', '--', '--env-file', file], { cwd: ROOT }).then(
      () => null,
      (e: { code?: number; stdout?: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stdout).toMatch(/^✗ ADMIN_API_TOKEN: must be at least 16 characters — set it with `npx wrangler secret put ADMIN_API_TOKEN`$/m);

    expect(problems(await checkDeploy({ ...vars, DATABASE_URL: undefined, CLIENT_API_TOKEN: ADMIN }))).toEqual([
      'DATABASE_URL: missing — set it with `npx wrangler secret put DATABASE_URL`',
    ]);
    expect(problems(await checkDeploy({ ...vars, CLIENT_API_TOKEN: ADMIN }))).toEqual([expect.stringMatching(/^ADMIN_API_TOKEN and CLIENT_API_TOKEN are the same/)]);
    expect(problems(await checkDeploy({ ...vars, UPSTASH_REDIS_REST_URL: 'not a url' }))).toEqual([expect.stringMatching(/^UPSTASH_REDIS_REST_URL: .* — set it with/)]);
    expect(problems(await checkDeploy({ ...vars, UPSTASH_REDIS_REST_TOKEN: 'wrong-token' }))).toEqual([expect.stringMatching(/^Redis at 127\.0\.0\.1:\d+ did not answer PING .* — check UPSTASH_REDIS_REST_TOKEN$/)]);
    expect(problems(await checkDeploy({ ...vars, UPSTASH_REDIS_REST_URL: 'https://db.example.invalid' }))).toEqual([
      expect.stringMatching(/^Redis at db\.example\.invalid did not answer PING .* — check UPSTASH_REDIS_REST_URL/),
    ]);
    expect(problems(await checkDeploy({ ...vars, UPSTASH_REDIS_REST_URL: 'http://redis.example.com' }))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^UPSTASH_REDIS_REST_URL: redis\.example\.com is not https/)]),
    );
    // Through the local proxy, which serves only the test database: nothing leaves this machine.
    expect(problems(await checkDeploy({ ...vars, DATABASE_URL: 'postgres://u:p@ep-x.eu-central-1.aws.neon.tech/db', STORE_TIMEOUT_MS: '2000' }))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^DATABASE_URL: a Neon connection string needs \?sslmode=require/), expect.stringMatching(/^Postgres at ep-x\.eu-central-1\.aws\.neon\.tech did not answer .* — check DATABASE_URL$/)]),
    );
  });

  it('check:deploy finds an unmigrated database and a Redis that may evict keys', async () => {
    const fresh = await postgresDb({ migrate: 'readme' });
    const redis = await startPrivateRedis();
    const own = await startNeonProxy({ targets: [targetOf(fresh.url ?? '')] });
    const evicting = await startUpstashRest({ redisUrl: redis.url, token: REDIS_TOKEN });
    try {
      // Undo the last two migrations' bookkeeping: as a database migrated before they existed.
      const journal = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER });
      const admin = new pg.Client({ connectionString: fresh.url ?? '' });
      await admin.connect();
      await admin.query('delete from drizzle.__drizzle_migrations where created_at >= $1', [journal[journal.length - 2]?.folderMillis]);
      await admin.end();
      await redis.resp.send(['CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru']);
      const findings = await checkDeploy({ ...vars, DATABASE_URL: fresh.url ?? '', NEON_WS_PROXY: own.wsProxy, UPSTASH_REDIS_REST_URL: evicting.url });
      expect(problems(findings)).toEqual([
        'Redis eviction: maxmemory-policy is allkeys-lru, which may delete counters and idempotency records — set noeviction (turn Eviction off)',
        expect.stringMatching(/^Postgres migrations: \d+ of \d+ applied, missing \w+, \w+ — run `DATABASE_URL=… npx drizzle-kit migrate`$/),
      ]);
    } finally {
      await evicting.close();
      await own.close();
      await redis.stop();
      await fresh.close();
    }
  });

  it('`wrangler deploy --dry-run --outdir` builds the bundle and reports its size; workerd serves it against the migrated database', { timeout: 180_000 }, async () => {
    const outdir = join(dir, 'deploy');
    const written = deployCommand(/^npx wrangler deploy --dry-run --outdir \S+$/);
    const { stdout, stderr } = await run('sh', ['-c', written.replace(/--outdir \S+$/, `--outdir '${outdir}'`)], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
      timeout: 120_000,
    });
    const reported = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(stdout + stderr);
    const bundle = join(outdir, 'worker.js');
    const bytes = (await stat(bundle)).size;
    const gzipped = gzipSync(await readFile(bundle)).length;
    console.log(`wrangler deploy --dry-run: ${reported?.[0] ?? 'no size line'}; worker.js ${(bytes / 1e6).toFixed(2)} MB, ${(gzipped / 1e3).toFixed(0)} KB gzipped`);
    expect(reported).not.toBeNull();
    // Workers' limit on the free plan is 3 MB after compression (10 MB on paid plans).
    expect(gzipped).toBeLessThan(3 * 1024 * 1024);
    expect(await readFile(bundle, 'utf8')).not.toMatch(/scripts\/(neon-proxy|upstash-rest)|from "ws"/);

    // modulesRoot: the bundle lies outside the working directory, which Miniflare would name it from.
    const mf = new Miniflare({ modules: true, scriptPath: bundle, modulesRoot: outdir, compatibilityDate: '2026-04-01', bindings: { ...vars, TAKE_TIMEOUT_MS: '30000' } });
    try {
      const call = async (method: string, path: string, token: string, body?: unknown) => {
        const res = await mf.dispatchFetch(`http://worker.local${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      expect(await call('GET', '/health', ADMIN)).toMatchObject({ status: 200, body: { status: 'ok', runtime: 'workerd' } });
      const created = await call('POST', '/v1/coupons', ADMIN, { name: 'deployed', issueStock: { total: 2 } });
      expect(created.status).toBe(201);
      const id = String(created.body.id);
      expect((await call('POST', `/v1/coupons/${id}/confirm`, ADMIN)).status).toBe(200);
      expect(await call('POST', `/v1/coupons/${id}/issues`, CLIENT, { userId: 'first' })).toMatchObject({ status: 201, body: { remain: 1 } });
      expect(await call('POST', `/v1/coupons/${id}/stocks/sync`, ADMIN)).toMatchObject({ status: 200, body: { issue: { total: 2, remain: 1, ledger: 1, drift: 0 } } });
      expect(await call('GET', `/v1/coupons/${id}`, ADMIN)).toMatchObject({ status: 200, body: { status: 'confirmed', issueStock: { total: 2, remain: 1 } } });
    } finally {
      await mf.dispose();
    }
  });
});
