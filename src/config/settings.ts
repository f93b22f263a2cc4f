/**
 * Settings shared by the runtimes (Node host, Worker). `TIME_ZONE`: an IANA zone name the
 * runtime knows, UTC when unset; the days and weeks of period stocks are counted in it.
 */
import { z } from 'zod';
import { DEFAULT_STORE_DEADLINE_MS, DEFAULT_TAKE_DEADLINE_MS } from '../stock/deadline.js';
import { isTimeZone } from '../stock/periods.js';

export const TimeZone = z
  .string()
  .default('UTC')
  .refine(isTimeZone, 'must be an IANA time zone this runtime knows, e.g. UTC or Europe/Berlin');

/** `LOW_STOCK_PERCENT`: when a stock counts as low for the `stock.low` webhook (default 10). */
export const LowStockPercent = z.coerce.number().int().min(1).max(99).default(10);

/**
 * `TAKE_TIMEOUT_MS`: the deadline of a take, cancel or commit on the live gauges (default 300;
 * why: `src/stock/deadline.ts`). A gauge that has not answered by then answers 503.
 */
export const TakeTimeoutMs = z.coerce.number().int().min(10).max(60_000).default(DEFAULT_TAKE_DEADLINE_MS);

/**
 * `STORE_TIMEOUT_MS`: the deadline of every other store call — admin and maintenance calls on
 * the gauges, each Postgres connect and each Postgres query (default 5000).
 */
export const StoreTimeoutMs = z.coerce.number().int().min(100).max(600_000).default(DEFAULT_STORE_DEADLINE_MS);

/**
 * `SOLD_OUT_MEMO_MS`: how long a stock or budget this process saw run out answers the takes
 * without an Idempotency-Key that need it `409` from memory, without a store call (default 500;
 * 0 turns the memo off; at most 1000). A cancel made in another process is takeable here at most
 * this long after it; one made through this process, at once (`src/coupon/sold-out.ts`).
 */
export const SoldOutMemoMs = z.coerce.number().int().min(0).max(1_000).default(500);

/**
 * `WEBHOOK_ALLOW_PRIVATE`: development only. `true` lets webhooks target private, loopback and
 * link-local addresses (a receiver on this machine); unset or `false`, only public ones.
 */
export const WebhookAllowPrivate = z
  // A Worker var may arrive as a JSON boolean, the environment only ever gives strings.
  .preprocess((v) => (typeof v === 'boolean' ? String(v) : v), z.enum(['true', 'false', '1', '0'], { error: 'must be true or false' }).default('false'))
  .transform((v) => v === 'true' || v === '1');

/**
 * `METRICS_TOKEN`: a bearer token that may read `GET /metrics` (Node host) and nothing else, so
 * a Prometheus server does not hold the admin token. Unset: only the admin token may.
 */
export const MetricsToken = z
  .string()
  .min(16, 'must be at least 16 characters')
  .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII')
  .optional();
