/**
 * Proof that what a take costs does not grow with the number of Worker isolates: the built
 * Worker in 1, 4 and 16 separate workerd instances behind a round-robin, one private
 * redis-server (so its `INFO commandstats` counts this file's commands alone), one PostgreSQL.
 * Each sale must cost at most 1.05 Redis commands per take (drains included), open Neon
 * connections as drains need them (one drain per coupon per interval, whatever N), and end with
 * a complete ledger, drained by the takes' own elected drainers: total − remain = ledger.
 * Sizes are small so the file fits a CI run (16 workerd on 2 cores); `npm run bench` reports the
 * same figures.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildWorker } from '../scripts/build-worker.js';
import { DRAIN_INTERVAL_MS } from '../src/coupon/drain.js';
import { postgresDb, type TestDb } from './support/db.js';
import { isolateSale, type IsolateSaleResult } from './support/isolate-sale.js';
import { startPrivateRedis, type PrivateRedis } from './support/redis-server.js';

let redis: PrivateRedis;
let db: TestDb;
let bundle: string;
const results: IsolateSaleResult[] = [];

beforeAll(async () => {
  // ISOLATES_BUNDLE: another build of the Worker (how the README's "before" column was measured:
  // the same harness on the previous commit's bundle).
  const build = process.env.ISOLATES_BUNDLE ? Promise.resolve(process.env.ISOLATES_BUNDLE) : buildWorker().then((b) => b.path);
  [redis, db, bundle] = await Promise.all([startPrivateRedis(), postgresDb(), build]);
}, 120_000);
afterAll(async () => {
  if (results.length > 0) console.table(results.map(row));
  await db?.close();
  await redis?.stop();
});

const row = (r: IsolateSaleResult) => ({
  N: r.isolates,
  'startup ms': Math.round(r.startupMs),
  requests: r.requests,
  'takes/s': Math.round(r.requests / (r.saleMs / 1000)),
  'redis cmds/take': r.redis.perTake.toFixed(4),
  'neon conns': r.neon.total,
  'neon conns/s': r.neon.perSecond.toFixed(2),
  'pg sessions': r.pgSessions,
  'drained ms': Math.round(r.drainedMs),
  'drained by': r.drainedBy,
});

const STOCK = Number(process.env.ISOLATES_STOCK ?? 400);
const REQUESTS = Number(process.env.ISOLATES_REQUESTS ?? 600);

describe('many isolates, one Redis, one PostgreSQL', () => {
  for (const isolates of (process.env.ISOLATES_N ?? '1,4,16').split(',').map(Number)) {
    it(`${isolates} isolate(s): ≤ 1.05 Redis commands per take, Neon connections per drain interval, ledger complete`, async () => {
      const r = await isolateSale({
        isolates,
        stock: STOCK,
        requests: REQUESTS,
        concurrency: 32,
        bundlePath: bundle,
        redis: { url: redis.url, resp: redis.resp },
        database: { url: db.url ?? '', adminUrl: inject('postgresUrl') },
      });
      results.push(r);
      expect(r.other, 'no answer but 201 and SOLD_OUT').toEqual({});
      expect(r.successes).toBe(STOCK);
      expect(r.soldOut).toBe(REQUESTS - STOCK);
      // Every command the sale sent, drains included, per take request.
      expect(r.redis.byName.eval, 'EVAL only where Redis did not know a script yet').toBeLessThanOrEqual(2);
      expect(r.redis.perTake).toBeLessThanOrEqual(1.05);
      // One elected drainer at a time for the coupon: at most one drain round per interval, each
      // one query (the batch insert), whatever the number of isolates, and the refusal counts of
      // the elected request's isolate written with its drain: a bound that does not hold N.
      const intervals = Math.ceil(r.drainedMs / DRAIN_INTERVAL_MS) + 2;
      expect(r.neon.webSockets, 'no transaction during a sale').toBe(0);
      expect(r.neon.queries).toBeLessThanOrEqual(2 * intervals);
      // The ledger is complete without the Cron Trigger, and the books balance.
      expect(r.drainedBy).toBe('takes');
      expect(r.books.ledger).toBe(STOCK);
      expect(r.books.total - r.books.remain).toBe(r.books.ledger);
    }, 180_000);
  }
});
