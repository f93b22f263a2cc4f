/**
 * Two service processes on one PostgreSQL, one hot coupon: the group commit of each process
 * decides on rows it locked, so together they must sell exactly the stock. Half the demand goes
 * to each process, and every user is asked by both (under two Idempotency-Keys) with a per-user
 * limit of 1, so the per-user limit is decided across processes too. Checked: oversell 0,
 * undersell 0, no user with more than one issue in the ledger, `total − remain = ledger`
 * (drift 0). Also: the group-commit figures each service logs when it stops (`gauge_batches`).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { fire, saleBooks, saleCoupon } from './end-to-end.js';
import type { Checks, Row } from './model.js';
import type { BenchOptions } from './options.js';
import { int, say } from './progress.js';
import { startService, type Stack } from './stack.js';

/** The `gauge_batches` line a service logged when it stopped, in words (`''` without one). */
export async function loggedBatches(stack: Stack, name: string): Promise<string> {
  const log = await readFile(join(stack.dir, `${name}.log`), 'utf8').catch(() => '');
  const line = log.split('\n').find((l) => l.includes('"event":"gauge_batches"'));
  if (!line) return '';
  const b = JSON.parse(line) as { batches: number; size: { median: number; max: number }; commitMs: { median: number; max: number } };
  return `${int(b.batches)} batches, takes per batch median ${b.size.median} / max ${b.size.max}, commit ms median ${b.commitMs.median.toFixed(1)} / max ${b.commitMs.max.toFixed(1)}`;
}

export async function twoProcessSale(stack: Stack, databaseUrl: string, options: BenchOptions, checks: Checks): Promise<Row> {
  const { connections, stock, demandFactor, timeoutSeconds } = options.sale;
  const demand = stock * demandFactor;
  const names = ['e2e-two-a', 'e2e-two-b'];
  say('end to end: two service processes on one PostgreSQL');
  const [a, b] = [await startService(stack, { name: names[0] ?? '', databaseUrl }), await startService(stack, { name: names[1] ?? '', databaseUrl })];
  if (!a || !b) throw new Error('two services were not started');
  const name = 'end to end, two processes on one PostgreSQL';
  let detail = '';
  let perSecond = 0;
  let latency = { p50: 0, p95: 0, p99: 0 };
  try {
    // The services share the database, not their tokens: the coupon is made through one, sold through both.
    const couponId = await saleCoupon(a, 'two-process flash sale', stock);
    const users = `${process.pid}-two-${Date.now().toString(36)}`;
    const half = Math.floor(demand / 2);
    const runs = await Promise.all(
      [a, b].map((service, i) => fire(service, couponId, half, Math.floor(connections / 2), timeoutSeconds, `two processes (${i + 1})`, { users, keys: `${users}-${i}` })),
    );
    const created = runs.reduce((n, r) => n + r.tally.created, 0);
    const soldOut = runs.reduce((n, r) => n + r.tally.soldOut, 0);
    const userLimit = runs.reduce((n, r) => n + r.tally.userLimit, 0);
    const other = runs.flatMap((r) => Object.entries(r.tally.other));
    const errors = runs.reduce((n, r) => n + r.errors, 0);
    const { live, sync } = await saleBooks(a, couponId);
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const over = await client
      .query<{ n: number }>("select count(*)::int as n from (select subject from ledger where scope = $1 and action = 'take' group by subject having count(*) > 1) s", [couponId])
      .finally(() => client.end());
    const overLimit = over.rows[0]?.n ?? -1;
    const total = live.issue?.total ?? -1;
    const remain = live.issue?.remain ?? -1;
    const oversell = Math.max(0, created - total);
    // Every user is asked twice: `half` users, each allowed one.
    const undersell = Math.max(0, Math.min(stock, half) - created);
    checks.equal(`${name}: oversell`, oversell, 0);
    checks.equal(`${name}: undersell`, undersell, 0);
    checks.equal(`${name}: users above the per-user limit (ledger)`, overLimit, 0);
    checks.equal(`${name}: remain`, remain, stock - created);
    checks.equal(`${name}: ledger after sync`, sync.issue?.ledger ?? -1, created);
    checks.equal(`${name}: drift after sync`, sync.issue?.drift ?? -1, 0);
    checks.equal(`${name}: answers`, created + soldOut + userLimit + other.reduce((n, [, c]) => n + c, 0), half * 2);
    checks.equal(`${name}: transport errors (timeouts included)`, errors, 0);
    checks.expect(runs.every((r) => !r.timedOut), `${name}: the sale did not finish within ${timeoutSeconds} s`);
    for (const [answer, count] of other) checks.expect(false, `${name}: ${int(count)} answers ${answer}`);
    perSecond = (half * 2) / Math.max(...runs.map((r) => r.seconds));
    // The slower process's percentiles: each client saw one of them.
    latency = { p50: Math.max(...runs.map((r) => r.latency.p50)), p95: Math.max(...runs.map((r) => r.latency.p95)), p99: Math.max(...runs.map((r) => r.latency.p99)) };
    detail =
      `${int(half * 2)} req for ${int(stock)}, every user asked by both: ${int(created)} issued, ${int(soldOut)} sold out, ${int(userLimit)} per-user limit; ` +
      `oversell ${oversell}, undersell ${undersell}, users over the limit ${overLimit}; remain ${int(remain)}, ledger ${int(sync.issue?.ledger ?? -1)}, drift ${sync.issue?.drift ?? '?'}`;
    say(`end to end: two processes: ${int(perSecond)} req/s, p99 ${latency.p99.toFixed(1)} ms; ${int(created)} issued`);
  } finally {
    await a.stop();
    await b.stop();
  }
  const batches = await Promise.all(names.map((n) => loggedBatches(stack, n)));
  detail += batches.map((s, i) => (s ? `; process ${i + 1}: ${s}` : '')).join('');
  return { id: 'e2e-two-process', section: 'end to end', what: 'flash sale, two service processes, Postgres gauges on one PostgreSQL', concurrency: connections, perSecond, latency, detail };
}
