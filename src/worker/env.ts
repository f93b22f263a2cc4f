/**
 * The Worker's bindings, parsed by zod once per `env` object at the fetch/scheduled boundary.
 * Misconfiguration answers with one clear line (and never echoes a secret).
 */
import { z } from 'zod';
import { LowStockPercent, SoldOutMemoMs, StoreTimeoutMs, TakeTimeoutMs, TimeZone, WebhookAllowPrivate } from '../config/settings.js';

const Token = z.string().min(16, 'must be at least 16 characters').regex(/^[\x21-\x7e]+$/, 'must be visible ASCII (no spaces)');

export const WorkerEnv = z.object({
  UPSTASH_REDIS_REST_URL: z.url(),
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1),
  DATABASE_URL: z.url(),
  ADMIN_API_TOKEN: Token,
  CLIENT_API_TOKEN: Token,
  /**
   * Local development only: `host:port/<secret>` of the proxy that lets the Neon driver reach a
   * plain PostgreSQL, over WebSockets (transactions) and Neon's HTTP query endpoint (every other
   * statement, at `http://host:port/<secret>/sql`). `npm run dev` sets it; the proxy refuses
   * anything without its per-start secret. Unset in production.
   */
  NEON_WS_PROXY: z
    .string()
    .regex(/^(wss?:\/\/)?[^/\s]+\/[A-Za-z0-9_-]{16,}\/?$/, 'must be host:port/<secret>, as the Neon proxy prints it')
    .optional(),
  /** The zone whose days and weeks period stocks count (IANA name, default UTC). */
  TIME_ZONE: TimeZone,
  /** `stock.low` webhooks fire at or under this percentage of a stock's total (default 10). */
  LOW_STOCK_PERCENT: LowStockPercent,
  /**
   * Development only: webhooks may target private, loopback and link-local addresses (default
   * false). The Worker checks a webhook's hostname as written (it cannot resolve names); its
   * `fetch` cannot reach private networks in production anyway.
   */
  WEBHOOK_ALLOW_PRIVATE: WebhookAllowPrivate,
  /** Deadline of a take, cancel or commit on the gauges (ms, default 300). */
  TAKE_TIMEOUT_MS: TakeTimeoutMs,
  /** Deadline of every other gauge call and of each Postgres connect and query (ms, default 5000). */
  STORE_TIMEOUT_MS: StoreTimeoutMs,
  /** How long a sold-out stock answers takes from this isolate's memory (ms, default 500, 0 = off). */
  SOLD_OUT_MEMO_MS: SoldOutMemoMs,
});

export type WorkerConfig = z.infer<typeof WorkerEnv>;

const parsed = new WeakMap<object, { ok: true; config: WorkerConfig } | { ok: false; message: string }>();

/** Parses the bindings; the answer is cached per `env` object (one per isolate). */
export function workerConfig(env: object) {
  let result = parsed.get(env);
  if (!result) {
    const out = WorkerEnv.safeParse(env);
    result = out.success
      ? { ok: true as const, config: out.data }
      : {
          ok: false as const,
          message: `invalid configuration: ${out.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        };
    parsed.set(env, result);
  }
  return result;
}
