/**
 * `npm run bench:reads [-- --quick] [-- --out <name>]`: what a read costs on the Worker
 * (`npm run dev`: wrangler dev in workerd, the local Upstash REST endpoint, a real PostgreSQL
 * behind the Neon proxy) and on the Node host (`npm start` with the same stores), in one run.
 *
 * For each route, 32 connections for a fixed time (autocannon): requests per second, p50/p99,
 * and the PostgreSQL sessions opened meanwhile, counted by PostgreSQL itself
 * (`pg_stat_database.sessions` of the run's own database). Every figure is also given as a ratio
 * to `GET /`, a route that touches no store, measured in the same run on the same runtime: this
 * machine is shared, absolute numbers move, ratios much less. Exits 1 when a route answered
 * anything but 200, 2 when the run itself broke.
 */
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { createDatabase } from './postgres.js';
import { int, say } from './progress.js';
import { ROOT, Stack, startDev, startRedis, startRest, startService, type Service } from './stack.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const outIndex = argv.indexOf('--out');
const out = outIndex >= 0 ? argv[outIndex + 1] : quick ? 'reads-quick' : 'reads';
if (argv.some((a, i) => !['--quick', '--out'].includes(a) && argv[i - 1] !== '--out') || !out) {
  throw new Error('usage: bench/reads.ts [--quick] [--out <name>]');
}

const CONNECTIONS = 32;
const SECONDS = quick ? 3 : 10;
const WARMUP_SECONDS = 1;
/**
 * A backend reports its connect to the statistics within a second of activity and at exit, and
 * the dev proxy closes pooled HTTP connections after 2 s idle: waiting this long after a window
 * puts every session it opened into `pg_stat_database.sessions`.
 */
const SETTLE_MS = 3_000;

interface Route {
  name: string;
  path: (ids: Seed) => string;
  token: (service: Service) => string | null;
}

interface Seed {
  couponId: string;
  /** A user holding three coupons (one per runtime: both share the database). */
  userId: string;
}

const ROUTES: Route[] = [
  { name: 'GET / (no store)', path: () => '/', token: () => null },
  { name: 'GET /openapi.json', path: () => '/openapi.json', token: () => null },
  { name: 'GET /health', path: () => '/health', token: () => null },
  { name: 'GET /v1/coupons/{id}', path: (s) => `/v1/coupons/${s.couponId}`, token: (s) => s.admin },
  { name: 'GET /v1/users/{userId}/coupons', path: (s) => `/v1/users/${s.userId}/coupons`, token: (s) => s.client },
];

interface Measured {
  runtime: string;
  route: string;
  perSecond: number;
  p50: number;
  p99: number;
  requests: number;
  failed: number;
  sessions: number;
}

async function call<T>(service: Service, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${service.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Three confirmed coupons issued to a new user and synced (the ledger drained), so every read has rows. */
async function seed(service: Service): Promise<Seed> {
  const userId = `bench-reader-${Date.now().toString(36)}`;
  let couponId = '';
  for (let i = 0; i < 3; i++) {
    const { id } = await call<{ id: string }>(service, service.admin, 'POST', '/v1/coupons', { name: `reads ${i}`, issueStock: { total: 1_000 }, useStock: { total: 1_000 } });
    await call(service, service.admin, 'POST', `/v1/coupons/${id}/confirm`);
    await call(service, service.client, 'POST', `/v1/coupons/${id}/issues`, { userId });
    await call(service, service.admin, 'POST', `/v1/coupons/${id}/stocks/sync`);
    couponId = id;
  }
  const held = await call<{ coupons: unknown[] }>(service, service.client, 'GET', `/v1/users/${userId}/coupons`);
  if (held.coupons.length !== 3) throw new Error(`seed: ${userId} holds ${held.coupons.length} coupons, expected 3`);
  return { couponId, userId };
}

function fire(url: string, token: string | null, seconds: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(
      { url, connections: CONNECTIONS, duration: seconds, headers: token ? { authorization: `Bearer ${token}` } : {} },
      (error, result) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(result)),
    );
  });
}

/** Sessions opened on the run's database so far, as PostgreSQL counts them. */
async function sessionsOf(admin: pg.Client, database: string): Promise<number> {
  await admin.query('select pg_stat_clear_snapshot()');
  const { rows } = await admin.query<{ sessions: string }>('select sessions from pg_stat_database where datname = $1', [database]);
  return Number(rows[0]?.sessions ?? Number.NaN);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function measureRuntime(runtime: string, service: Service, admin: pg.Client, database: string): Promise<Measured[]> {
  say(`${runtime}: seeding three coupons issued to one user`);
  const ids = await seed(service);
  const rows: Measured[] = [];
  for (const route of ROUTES) {
    const url = `${service.url}${route.path(ids)}`;
    const token = route.token(service);
    await fire(url, token, WARMUP_SECONDS);
    await sleep(SETTLE_MS);
    const before = await sessionsOf(admin, database);
    say(`${runtime}: ${route.name}, ${CONNECTIONS} connections for ${SECONDS} s`);
    const result = await fire(url, token, SECONDS);
    await sleep(SETTLE_MS);
    const sessions = (await sessionsOf(admin, database)) - before;
    const requests = result.requests.total;
    const row = {
      runtime,
      route: route.name,
      perSecond: requests / result.duration,
      p50: result.latency.p50,
      p99: result.latency.p99,
      requests,
      failed: result.non2xx + result.errors + result.timeouts,
      sessions,
    };
    say(`  ${int(row.perSecond)} req/s, p99 ${row.p99} ms, ${int(sessions)} sessions for ${int(requests)} requests${row.failed ? `, ${int(row.failed)} FAILED` : ''}`);
    rows.push(row);
  }
  return rows;
}

const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '—');

function table(rows: Measured[]): string {
  const lines = [
    '| runtime | route | req/s | vs no-store route | p50 ms | p99 ms | requests | Postgres sessions opened | sessions per request | failed |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const base = rows.find((r) => r.runtime === row.runtime && r.route === ROUTES[0]?.name);
    const ratio = base ? row.perSecond / base.perSecond : Number.NaN;
    lines.push(
      `| ${row.runtime} | ${row.route} | ${int(row.perSecond)} | ${fixed(ratio, 2)}× | ${row.p50} | ${row.p99} | ${int(row.requests)} | ${int(row.sessions)} | ${fixed(row.sessions / row.requests, 3)} | ${int(row.failed)} |`,
    );
  }
  return lines.join('\n');
}

const stack = new Stack();
process.once('SIGINT', () => {
  say('interrupted: stopping what was started');
  void stack.stopAll().finally(() => process.exit(130));
});

let exitCode = 0;
try {
  const context = [
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, \`npm run bench:reads${quick ? ' -- --quick' : ''}\`, ${CONNECTIONS} connections, ${SECONDS} s per route`,
    `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}; Node ${process.version}; load average at start ${loadavg().map((l) => l.toFixed(1)).join(' ')} (the machine is shared)`,
  ];
  const redis = await startRedis(stack);
  const database = await createDatabase(stack);
  const migrated = await database.open();
  await migrated.close();
  const name = new URL(database.url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: Object.assign(new URL(database.url), { pathname: '/postgres' }).toString() });
  await admin.connect();
  stack.add({ stop: () => admin.end() });
  context.push(`PostgreSQL ${database.version}, a throw-away database; sessions from \`pg_stat_database.sessions\``);

  const rows: Measured[] = [];
  say('starting npm run dev (wrangler dev) against the throw-away database');
  const dev = await startDev(stack, { databaseUrl: database.url, redis });
  rows.push(...(await measureRuntime('workerd (npm run dev)', dev, admin, name)));
  await dev.stop();

  say('starting the Node host (npm start) against the same stores');
  const rest = await startRest(stack, redis);
  const node = await startService(stack, { name: 'reads-node', rest, databaseUrl: database.url });
  rows.push(...(await measureRuntime('node (npm start)', node, admin, name)));
  await node.stop();

  context.push(`load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const report = `# Reads on the Worker and the Node host\n\n${context.map((c) => `- ${c}`).join('\n')}\n\n${table(rows)}\n`;
  await writeFile(join(ROOT, 'bench', 'results', `${out}.md`), report);
  process.stdout.write(`${table(rows)}\n`);
  say(`written: bench/results/${out}.md`);
  const failed = rows.filter((r) => r.failed > 0);
  for (const r of failed) say(`check failed: ${r.runtime} ${r.route}: ${int(r.failed)} answers were not 200`);
  exitCode = failed.length > 0 ? 1 : 0;
} catch (error) {
  say(`the benchmark broke: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  exitCode = 2;
} finally {
  await stack.stopAll();
}
process.exit(exitCode);
