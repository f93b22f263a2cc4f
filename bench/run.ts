/**
 * `npm run bench [-- --quick] [-- --cpu-prof]`: starts what it needs (a private redis-server,
 * the local Upstash REST endpoint, the service twice or three times), measures the raw limit,
 * the gauge layer, a flash sale end to end, scaling and memory, prints one table on stdout
 * (progress goes to stderr) and writes it to bench/results/. Exits 1 when any correctness
 * check failed (oversell, undersell, a count off), 2 when the run itself broke. Timings are
 * reported, never asserted.
 */
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { coalescedRunner } from '../src/adapters/redis/coalesce.js';
import { redisClient, RedisGauge } from '../src/adapters/redis/redis-gauge.js';
import { respRedis } from '../src/adapters/redis/resp.js';
import { chart } from './chart.js';
import { measureCluster } from './cluster.js';
import { flashSale } from './end-to-end.js';
import { measureGauge, measurePostgresGauge, measureResp } from './gauge-layer.js';
import { measureIsolates } from './isolates.js';
import { measureMemory } from './memory.js';
import { Checks, type Row } from './model.js';
import { parseOptions } from './options.js';
import { createDatabase, openPglite, type BenchDatabase } from './postgres.js';
import { summarizeProfile } from './profile.js';
import { say } from './progress.js';
import { measureRaw } from './raw.js';
import { markdown, textTable, type Report } from './report.js';
import { measureScaling } from './scaling.js';
import { measureSoldOut } from './sold-out.js';
import { loggedBatches, twoProcessSale } from './two-process.js';
import { ROOT, Stack, startRedis, startRest, startService, type RestEndpoint } from './stack.js';

const options = parseOptions(process.argv.slice(2));
const stack = new Stack();
const checks = new Checks();
const rows: Row[] = [];
const context: string[] = [
  `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${options.quick ? '`npm run bench -- --quick`' : '`npm run bench`'}`,
  `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}`,
];
const profileDir = join(ROOT, 'bench', 'profiles');

process.once('SIGINT', () => {
  say('interrupted: stopping what was started');
  void stack.stopAll().finally(() => process.exit(130));
});

interface Sale {
  id: string;
  what: string;
  rest?: RestEndpoint;
  redisUrl?: string;
  databaseUrl?: string;
}

async function measure(): Promise<number> {
  say(`${options.quick ? 'quick run' : 'full run'}: starting a private redis-server and the local Upstash REST endpoint`);
  const redis = await startRedis(stack);
  const rest = await startRest(stack, redis);
  const version = /v=([0-9.]+)/.exec(String(await redis.resp.send(['INFO', 'server'])).replace('redis_version:', 'v='))?.[1] ?? '?';
  context.push(`redis-server ${version} (private, no persistence), the local Upstash REST endpoint in its own process`);
  const gauge = new RedisGauge({ redis: redisClient({ url: rest.url, token: rest.token, retries: 0 }) });

  rows.push(...(await measureRaw({ redis, gauge, options, checks })));
  rows.push(await measureGauge('gauge-redis', 'Redis gauge via Upstash REST (auto-pipelining)', gauge, options, checks));
  // As the Node host runs it: the scripts of one event-loop turn share one request.
  const pipelineClient = redisClient({ url: rest.url, token: rest.token, retries: 0 });
  const coalesced = new RedisGauge({ redis: pipelineClient, scripts: coalescedRunner({ redis: pipelineClient }) });
  rows.push(await measureGauge('gauge-redis-coalesced', 'Redis gauge via Upstash REST, coalesced per turn (Node host)', coalesced, options, checks));
  // Over RESP (REDIS_URL): ioredis, auto-pipelined, straight to redis-server; one connection
  // (as before REDIS_CONNECTIONS), the default two, and the default on a Redis with a replica
  // (REDIS_WAIT_REPLICAS=auto: WAIT 1 before each answer).
  rows.push(...(await measureResp(redis, options, checks)));
  await redis.resp.send(['FLUSHALL']);
  say('gauge layer: opening PGlite (the first open runs initdb)');
  rows.push(await measurePostgresGauge('gauge-pglite-single', 'Postgres gauge on PGlite, one transaction per take (before group commit)', () => openPglite(stack), options, checks, false));
  rows.push(await measurePostgresGauge('gauge-pglite', 'Postgres gauge on PGlite (embedded), group commit', () => openPglite(stack), options, checks));
  let database: BenchDatabase | null = null;
  if (options.gauge.realPostgres || options.sale.realPostgres) {
    database = await createDatabase(stack);
    context.push(`PostgreSQL ${database.version} (a throw-away database, pool of 10 as the Node host uses)`);
  }
  if (database && options.gauge.realPostgres) {
    rows.push(await measurePostgresGauge('gauge-postgres-single', 'Postgres gauge on PostgreSQL, one transaction per take (before group commit)', database.open, options, checks, false));
    rows.push(await measurePostgresGauge('gauge-postgres', 'Postgres gauge on PostgreSQL, group commit', database.open, options, checks));
  }

  const sales: Sale[] = [
    { id: 'e2e-redis', what: 'Redis gauges (Upstash REST), PGlite store', rest },
    { id: 'e2e-resp', what: 'Redis gauges over RESP (REDIS_URL), PGlite store', redisUrl: redis.url },
    { id: 'e2e-pglite', what: 'Postgres gauges on PGlite (npm start default)' },
  ];
  if (database && options.sale.realPostgres) sales.push({ id: 'e2e-postgres', what: 'Postgres gauges on PostgreSQL', databaseUrl: database.url });
  for (const sale of sales) {
    say(`end to end: starting the service (${sale.what})`);
    const service = await startService(stack, {
      name: sale.id,
      ...(sale.rest ? { rest: sale.rest } : {}),
      ...(sale.redisUrl ? { redisUrl: sale.redisUrl } : {}),
      ...(sale.databaseUrl ? { databaseUrl: sale.databaseUrl } : {}),
      ...(options.cpuProf ? { cpuProfDir: profileDir } : {}),
    });
    let row: Row | null = null;
    try {
      row = await flashSale({ id: sale.id, what: sale.what, service }, options, checks);
    } finally {
      await service.stop();
    }
    // The group commit's figures, logged by the service as it stopped (Postgres gauges only).
    const batches = await loggedBatches(stack, sale.id);
    rows.push(batches ? { ...row, detail: `${row.detail}; ${batches}` } : row);
    if (options.cpuProf) process.stderr.write(`${await summarizeProfile(join(profileDir, sale.id), 25)}\n`);
  }

  rows.push(...(await measureSoldOut(stack, redis, rest, options, checks)));

  rows.push(...(await measureIsolates(stack, options, checks)));

  if (database && options.sale.realPostgres) rows.push(await twoProcessSale(stack, database.url, options, checks));

  rows.push(...(await measureCluster(options, checks)));

  const scaling = await measureScaling({ redis, gauge, options, checks });
  rows.push(...scaling.rows);
  const memory = await measureMemory(redis, gauge, scaling, checks);
  rows.push(...memory.rows);
  return memory.bareCounter;
}

let exitCode = 0;
try {
  const bareCounter = await measure();
  await stack.stopAll();
  const report: Report = { rows, bareCounter, failures: checks.failures, context, quick: options.quick };
  // The committed results are a full run's; a quick run (CI, a smoke check) writes beside them.
  const name = options.quick ? 'quick' : 'latest';
  const results = join(ROOT, 'bench', 'results');
  await writeFile(join(results, `${name}.md`), markdown(report, `${name}.svg`));
  await writeFile(join(results, `${name}.svg`), chart(rows, context[0] ?? ''));
  process.stdout.write(`${textTable(report)}\n`);
  say(`written: bench/results/${name}.md and bench/results/${name}.svg`);
  exitCode = checks.failures.length > 0 ? 1 : 0;
} catch (error) {
  say(`the benchmark broke: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  for (const f of checks.failures) say(`check failed before that: ${f}`);
  exitCode = 2;
} finally {
  await stack.stopAll();
}
process.exit(exitCode);
