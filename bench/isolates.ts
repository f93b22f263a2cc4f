/**
 * The bench's many-isolate rows: the built Worker in N workerd instances behind a round-robin
 * (`test/support/isolate-sale.ts`, the harness `test/isolates.test.ts` asserts on), one private
 * redis-server and one PostgreSQL. Per N: Redis commands per take from the server's
 * `INFO commandstats` (drains included), Neon connections opened (HTTP queries and WebSockets,
 * counted by the proxy) and per second, Postgres sessions, and whether the ledger was complete
 * and balanced at the end. Counts are checked; rates are reported.
 */
import { buildWorker } from '../scripts/build-worker.js';
import { isolateSale } from '../test/support/isolate-sale.js';
import type { Checks, Row } from './model.js';
import type { BenchOptions } from './options.js';
import { createDatabase } from './postgres.js';
import { int, say } from './progress.js';
import { startRedis, type Stack } from './stack.js';

export async function measureIsolates(stack: Stack, options: BenchOptions, checks: Checks): Promise<Row[]> {
  const { counts, stock, requests, concurrency } = options.isolates;
  say(`isolates: a private redis-server, a throw-away PostgreSQL database, the Worker bundle`);
  // Its own redis-server: commandstats must count these sales alone.
  const [redis, database, bundle] = await Promise.all([startRedis(stack), createDatabase(stack), buildWorker()]);
  await (await database.open()).close(); // migrates
  const rows: Row[] = [];
  for (const isolates of counts) {
    const r = await isolateSale({
      isolates,
      stock,
      requests,
      concurrency,
      bundlePath: bundle.path,
      redis: { url: redis.url, resp: redis.resp },
      database: { url: database.url, adminUrl: database.adminUrl },
      say,
    });
    checks.equal(`isolates ${isolates}: successes`, r.successes, stock);
    checks.equal(`isolates ${isolates}: ledger`, r.books.ledger, stock);
    checks.equal(`isolates ${isolates}: total − remain − ledger`, r.books.total - r.books.remain - r.books.ledger, 0);
    checks.expect(r.redis.perTake <= 1.05, `isolates ${isolates}: ${r.redis.perTake.toFixed(3)} Redis commands per take, expected ≤ 1.05`);
    checks.expect(Object.keys(r.other).length === 0, `isolates ${isolates}: answers other than 201 and SOLD_OUT: ${JSON.stringify(r.other)}`);
    const { evalsha = 0, eval: evals = 0, xdel = 0 } = r.redis.byName;
    rows.push({
      id: `isolates-${isolates}`,
      section: 'isolates',
      what: `Worker in ${isolates} workerd isolate${isolates === 1 ? '' : 's'}, round-robin; one Redis, one PostgreSQL`,
      concurrency,
      perSecond: r.requests / (r.saleMs / 1000),
      latency: null,
      isolates: { n: isolates, commandsPerTake: r.redis.perTake, connectionsPerSecond: r.neon.perSecond },
      detail:
        `${r.redis.perTake.toFixed(3)} Redis commands/take (EVALSHA ${int(evalsha)}, EVAL ${int(evals)}, XDEL ${int(xdel)} for ${int(r.requests)} takes); ` +
        `${int(r.neon.total)} Neon connections (${int(r.neon.queries)} HTTP queries, ${int(r.neon.webSockets)} WebSockets) = ${r.neon.perSecond.toFixed(2)}/s over ${(r.drainedMs / 1000).toFixed(1)} s; ` +
        `${int(r.pgSessions)} Postgres sessions opened; ledger ${int(r.books.ledger)} = total ${int(r.books.total)} − remain ${int(r.books.remain)}, drained by the ${r.drainedBy}; ` +
        `workerd start-up ${(r.startupMs / 1000).toFixed(1)} s`,
    });
  }
  return rows;
}
