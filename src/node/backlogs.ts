/**
 * What `/metrics` reads from the stores when Prometheus scrapes: ledger events still waiting in
 * Redis streams, and webhook deliveries pending or failed in Postgres. Read at scrape time (not
 * kept up to date on the hot path) and bounded, so a scrape costs a few queries whatever the load.
 */
import type { Redis } from '@upstash/redis';
import type { RespRedis } from '../adapters/redis/resp.js';
import { inArray, sql } from 'drizzle-orm';
import type { Db } from '../adapters/postgres/db.js';
import { webhookDeliveries } from '../adapters/postgres/schema.js';
import type { CouponRepository } from '../coupon/ports.js';
import { couponKeys } from '../coupon/keys.js';

/** Live coupons whose streams a scrape reads: beyond them the figures are a lower bound (README). */
export const LEDGER_SCAN_LIMIT = 1_000;
/** Streams read per pipeline (one HTTP request to Upstash). */
const PIPELINE = 100;

/** Length of a stream and the id of its first entry (`<ms>-<seq>`), or '' when empty. */
const STREAM_HEAD = `
local n = redis.call('XLEN', KEYS[1])
if n == 0 then return {0, ''} end
return {n, redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1][1]}
`;

/**
 * Ledger events waiting in the Redis streams of the first `LEDGER_SCAN_LIMIT` live coupons, and
 * the age of the oldest (from its stream id, which is the time Redis wrote it). On the Postgres
 * gauge nothing waits: the ledger row is written in the take's own transaction.
 */
export function redisLedgerBacklog(options: { redis: Pick<Redis, 'pipeline'> | RespRedis['backlog']; coupons: CouponRepository; now?: () => number }) {
  const { redis, coupons, now = Date.now } = options;
  return async (): Promise<{ events: number; oldestSeconds: number }> => {
    const ids = await coupons.liveIds(null, LEDGER_SCAN_LIMIT);
    let events = 0;
    let oldest = Infinity;
    for (let i = 0; i < ids.length; i += PIPELINE) {
      const pipeline = redis.pipeline();
      for (const id of ids.slice(i, i + PIPELINE)) pipeline.eval(STREAM_HEAD, [`${couponKeys(id).prefix}ledger`], []);
      for (const reply of (await pipeline.exec()) as [number | string, string][]) {
        const [n, first] = reply;
        events += Number(n);
        const ms = parseInt(String(first).split('-')[0] ?? '', 10);
        if (Number(n) > 0 && Number.isFinite(ms)) oldest = Math.min(oldest, ms);
      }
    }
    return { events, oldestSeconds: oldest === Infinity ? 0 : Math.max(0, (now() - oldest) / 1000) };
  };
}

/** Webhook deliveries waiting for an attempt and given up on: one grouped count on the status index. */
export function webhookBacklog(db: Db) {
  return async (): Promise<{ pending: number; failed: number }> => {
    const rows = await db
      .select({ status: webhookDeliveries.status, n: sql<number>`count(*)::int` })
      .from(webhookDeliveries)
      .where(inArray(webhookDeliveries.status, ['pending', 'failed']))
      .groupBy(webhookDeliveries.status);
    const of = (status: string) => Number(rows.find((r) => r.status === status)?.n ?? 0);
    return { pending: of('pending'), failed: of('failed') };
  };
}
