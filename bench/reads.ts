/**
 * `npm run bench:reads [-- --quick] [-- --baseline <git ref>] [-- --out <name>]`: what a read
 * costs on the Worker (`npm run dev`: wrangler dev in workerd, the local Upstash REST endpoint, a
 * real PostgreSQL behind the Neon proxy) and on the Node host (`npm start` on the same stores).
 *
 * For each route, 32 connections (autocannon): requests per second, p50/p99, and the PostgreSQL
 * sessions opened meanwhile, counted by PostgreSQL itself (`pg_stat_database.sessions` of a
 * database of the run's own). `GET /` touches no store: every route is also given as a ratio to
 * it, measured in the same round. With `--baseline`, that revision (exported with `git archive`,
 * sharing this tree's node_modules) runs beside this one, on a database of its own, and the two
 * are measured in alternation, route by route, round after round: this machine is shared, and
 * load that comes and goes then falls on both alike. Exits 1 when a route answered anything but
 * 200, 2 when the run itself broke.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { createDatabase } from './postgres.js';
import { int, say } from './progress.js';
import { ROOT, Stack, startDev, startRedis, startRest, startService, type PrivateRedis, type RestEndpoint, type Service } from './stack.js';

const argv = process.argv.slice(2);
const valueOf = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
const quick = argv.includes('--quick');
const baselineRef = valueOf('--baseline');
const out = valueOf('--out') ?? (quick ? 'reads-quick' : 'reads');
const known = new Set(['--quick', '--baseline', '--out']);
if (argv.some((a, i) => !known.has(a) && !['--baseline', '--out'].includes(argv[i - 1] ?? '')) || (argv.includes('--baseline') && !baselineRef)) {
  throw new Error('usage: bench/reads.ts [--quick] [--baseline <git ref>] [--out <name>]');
}

const CONNECTIONS = 32;
const ROUNDS = quick ? 1 : 3;
const SECONDS = quick ? 2 : 5;
const WARMUP_SECONDS = 0.5;
/**
 * A backend reports its connect to the statistics at the end of its first transaction (and a
 * session that ends, at exit): waiting this long after a window lets the requests still in
 * flight finish, so every session the window opened is in `pg_stat_database.sessions`.
 */
const SETTLE_MS = 2_500;

interface Seed {
  couponId: string;
  /** A user holding three coupons. */
  userId: string;
}

interface Route {
  name: string;
  path: (seed: Seed) => string;
  token: (service: Service) => string | null;
}

const NO_STORE = 'GET / (no store)';
const ROUTES: Route[] = [
  { name: NO_STORE, path: () => '/', token: () => null },
  { name: 'GET /openapi.json', path: () => '/openapi.json', token: () => null },
  { name: 'GET /health', path: () => '/health', token: () => null },
  { name: 'GET /v1/coupons/{id}', path: (s) => `/v1/coupons/${s.couponId}`, token: (s) => s.admin },
  { name: 'GET /v1/users/{userId}/coupons', path: (s) => `/v1/users/${s.userId}/coupons`, token: (s) => s.client },
];

/** One revision on one runtime: the service, its database and what was measured. */
interface Target {
  revision: string;
  service: Service;
  database: string;
  seed: Seed;
  totals: Map<string, { requests: number; seconds: number; sessions: number; failed: number; p50: number[]; p99: number[] }>;
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

/** Sessions opened on a database so far, as PostgreSQL counts them. */
async function sessionsOf(admin: pg.Client, database: string): Promise<number> {
  await admin.query('select pg_stat_clear_snapshot()');
  const { rows } = await admin.query<{ sessions: string }>('select sessions from pg_stat_database where datname = $1', [database]);
  return Number(rows[0]?.sessions ?? Number.NaN);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One window of one route on one target, added to its totals. */
async function measure(target: Target, route: Route, admin: pg.Client, label: string): Promise<void> {
  const url = `${target.service.url}${route.path(target.seed)}`;
  const token = route.token(target.service);
  await fire(url, token, WARMUP_SECONDS);
  await sleep(SETTLE_MS);
  const before = await sessionsOf(admin, target.database);
  const result = await fire(url, token, SECONDS);
  await sleep(SETTLE_MS);
  const sessions = (await sessionsOf(admin, target.database)) - before;
  const total = target.totals.get(route.name) ?? { requests: 0, seconds: 0, sessions: 0, failed: 0, p50: [], p99: [] };
  total.requests += result.requests.total;
  total.seconds += result.duration;
  total.sessions += sessions;
  total.failed += result.non2xx + result.errors + result.timeouts;
  total.p50.push(result.latency.p50);
  total.p99.push(result.latency.p99);
  target.totals.set(route.name, total);
  say(`${label} ${target.revision}: ${route.name}: ${int(result.requests.total / result.duration)} req/s, ${int(sessions)} sessions for ${int(result.requests.total)} requests`);
}

/** Measures every route on every target, alternating targets within each route, for ROUNDS rounds. */
async function measureRuntime(runtime: string, targets: Target[], admin: pg.Client): Promise<void> {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const route of ROUTES) {
      // Alternate which revision goes first, so neither always follows the other's load.
      const order = round % 2 === 0 ? [...targets].reverse() : targets;
      for (const target of order) await measure(target, route, admin, `${runtime} round ${round}/${ROUNDS}`);
    }
  }
}

const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const perSecond = (t: Target, route: string) => {
  const total = t.totals.get(route);
  return total ? total.requests / total.seconds : Number.NaN;
};

function table(runtimes: { runtime: string; targets: Target[] }[]): string {
  const lines = [
    '| runtime | route | revision | req/s | vs no-store route | p50 ms | p99 ms | requests | Postgres sessions opened | sessions per request | failed |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const { runtime, targets } of runtimes) {
    for (const route of ROUTES) {
      for (const t of targets) {
        const total = t.totals.get(route.name);
        if (!total) continue;
        const rate = perSecond(t, route.name);
        lines.push(
          `| ${runtime} | ${route.name} | ${t.revision} | ${int(rate)} | ${fixed(rate / perSecond(t, NO_STORE), 2)}× | ${median(total.p50)} | ${median(total.p99)} | ${int(total.requests)} | ${int(total.sessions)} | ${fixed(total.sessions / total.requests, 3)} | ${int(total.failed)} |`,
        );
      }
    }
  }
  return lines.join('\n');
}

/** After ÷ before per route, when a baseline ran. */
function speedups(runtimes: { runtime: string; targets: Target[] }[]): string {
  const lines = ['| runtime | route | req/s before → after | × | sessions per request before → after |', '| --- | --- | --- | ---: | --- |'];
  for (const { runtime, targets } of runtimes) {
    const [before, after] = targets;
    if (!before || !after) continue;
    for (const route of ROUTES) {
      const b = before.totals.get(route.name);
      const a = after.totals.get(route.name);
      if (!a || !b) continue;
      const rb = perSecond(before, route.name);
      const ra = perSecond(after, route.name);
      lines.push(`| ${runtime} | ${route.name} | ${int(rb)} → ${int(ra)} | ${fixed(ra / rb, 2)}× | ${fixed(b.sessions / b.requests, 3)} → ${fixed(a.sessions / a.requests, 3)} |`);
    }
  }
  return lines.join('\n');
}

/** The revision `ref` as a tree of its own beside this one, using this tree's node_modules. */
function exportRevision(stack: Stack, ref: string): { root: string; name: string } {
  const name = execFileSync('git', ['rev-parse', '--short', ref], { cwd: ROOT, encoding: 'utf8' }).trim();
  const root = join(stack.dir, `baseline-${name}`);
  mkdirSync(root, { recursive: true });
  execFileSync('sh', ['-c', `git archive ${name} | tar -x -C '${root}'`], { cwd: ROOT });
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  return { root, name };
}

async function targetsFor(
  runtime: 'workerd' | 'node',
  stack: Stack,
  trees: { root: string; revision: string }[],
  stores: { redis: PrivateRedis; rest: RestEndpoint; databases: { url: string; name: string }[] },
): Promise<Target[]> {
  const targets: Target[] = [];
  for (const [i, tree] of trees.entries()) {
    const database = stores.databases[i];
    if (!database) throw new Error('a database per revision');
    say(`${runtime}: starting ${runtime === 'workerd' ? 'npm run dev' : 'npm start'} of ${tree.revision}`);
    const service =
      runtime === 'workerd'
        ? await startDev(stack, { name: `dev-${i}`, root: tree.root, databaseUrl: database.url, redis: stores.redis })
        : await startService(stack, { name: `node-${i}`, root: tree.root, rest: stores.rest, databaseUrl: database.url });
    targets.push({ revision: tree.revision, service, database: database.name, seed: await seed(service), totals: new Map() });
  }
  return targets;
}

const stack = new Stack();
process.once('SIGINT', () => {
  say('interrupted: stopping what was started');
  void stack.stopAll().finally(() => process.exit(130));
});

let exitCode = 0;
try {
  const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
  const trees = [{ root: ROOT, revision: `${head}${dirty ? '+changes' : ''} (this tree)` }];
  if (baselineRef) {
    const exported = exportRevision(stack, baselineRef);
    trees.unshift({ root: exported.root, revision: `${exported.name} (baseline)` });
  }
  const context = [
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, \`npm run bench:reads${quick ? ' -- --quick' : ''}${baselineRef ? ` -- --baseline ${baselineRef}` : ''}\`: ${CONNECTIONS} connections, ${ROUNDS} round(s) of ${SECONDS} s per route and revision, revisions alternating`,
    `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}; Node ${process.version}; load average at start ${loadavg().map((l) => l.toFixed(1)).join(' ')} (the machine is shared)`,
  ];
  const redis = await startRedis(stack);
  const rest = await startRest(stack, redis);
  const databases: { url: string; name: string }[] = [];
  let version = '?';
  for (const _ of trees) {
    const database = await createDatabase(stack);
    const migrated = await database.open();
    await migrated.close();
    databases.push({ url: database.url, name: new URL(database.url).pathname.slice(1) });
    version = database.version;
  }
  const admin = new pg.Client({ connectionString: Object.assign(new URL(databases[0]?.url ?? ''), { pathname: '/postgres' }).toString() });
  await admin.connect();
  stack.add({ stop: () => admin.end() });
  context.push(`PostgreSQL ${version}, a throw-away database per revision; sessions from \`pg_stat_database.sessions\``);

  const runtimes: { runtime: string; targets: Target[] }[] = [];
  const workerd = await targetsFor('workerd', stack, trees, { redis, rest, databases });
  await measureRuntime('workerd', workerd, admin);
  for (const t of workerd) await t.service.stop();
  runtimes.push({ runtime: 'workerd (npm run dev)', targets: workerd });

  const node = await targetsFor('node', stack, trees, { redis, rest, databases });
  await measureRuntime('node', node, admin);
  for (const t of node) await t.service.stop();
  runtimes.push({ runtime: 'node (npm start)', targets: node });

  context.push(`load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const sections = [table(runtimes), ...(baselineRef ? [speedups(runtimes)] : [])];
  const report = `# Reads on the Worker and the Node host\n\n${context.map((c) => `- ${c}`).join('\n')}\n\n${sections.join('\n\n')}\n`;
  await writeFile(join(ROOT, 'bench', 'results', `${out}.md`), report);
  process.stdout.write(`${sections.join('\n\n')}\n`);
  say(`written: bench/results/${out}.md`);
  const failed = runtimes.flatMap(({ runtime, targets }) => targets.flatMap((t) => [...t.totals].filter(([, v]) => v.failed > 0).map(([route, v]) => `${runtime} ${t.revision} ${route}: ${int(v.failed)}`)));
  for (const f of failed) say(`check failed: answers that were not 200: ${f}`);
  exitCode = failed.length > 0 ? 1 : 0;
} catch (error) {
  say(`the benchmark broke: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  exitCode = 2;
} finally {
  await stack.stopAll();
}
process.exit(exitCode);
