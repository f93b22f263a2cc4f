/**
 * The Worker: `fetch` serves the app with Redis gauges and Neon Postgres; `scheduled` (the
 * Cron Trigger) drains ledgers, syncs live remains and archives ended coupons.
 */
import type { Context, ExecutionContext } from 'hono';
import { PostgresCouponRepository } from './adapters/postgres/coupon-repository.js';
import { PostgresLedgerRepository } from './adapters/postgres/ledger-repository.js';
import { PostgresRefusalRepository } from './adapters/postgres/refusal-repository.js';
import { PostgresWebhookRepository } from './adapters/postgres/webhook-repository.js';
import type { Db } from './adapters/postgres/db.js';
import { createNeonDb, createNeonHttpDb } from './adapters/postgres/neon.js';
import { RedisGauge, redisClient } from './adapters/redis/redis-gauge.js';
import type { CouponDeps } from './coupon/deps.js';
import { drainElected, drainLeaseFor } from './coupon/drain.js';
import { Maintenance } from './coupon/maintenance.js';
import { RefusalTally } from './coupon/refusal-tally.js';
import { soldOutMemo, useSoldOutMemo } from './coupon/sold-out.js';
import type { SoldOutMemo } from './stock/sold-out-memo.js';
import { TargetPolicy } from './events/targets.js';
import { createApp, type RequestScope } from './http/app.js';
import { problemBody } from './http/problem.js';
import { withDeadline } from './stock/deadline.js';
import { PeriodClock } from './stock/periods.js';
import { workerConfig, type WorkerConfig } from './worker/env.js';

interface ScheduledController {
  cron: string;
  scheduledTime: number;
}

/**
 * Adapters for one request. The Redis client is per request (its auto-pipeline must not mix
 * requests). The ledger is drained by the request the take script elected (one per coupon at a
 * time, across every isolate: `src/adapters/redis/lua/drain.ts`), after its response.
 * Postgres: one-shot statements (every read, every single-statement write, the ledger
 * drain) go over Neon's HTTP query path, one `fetch` each and no session; only an interactive
 * transaction (confirm, webhook bookkeeping, the Postgres side of maintenance) opens the
 * request's WebSocket pool, which is then ended after the response, as Workers need.
 */
function requestScope(config: WorkerConfig, waitUntil: (p: Promise<unknown>) => void): RequestScope {
  const neon = createNeonDb(neonOptions(config), httpDb(config));
  const drains: Promise<unknown>[] = [];
  const deps: CouponDeps = {
    coupons: new PostgresCouponRepository({ db: neon.db }),
    ledger: new PostgresLedgerRepository({ db: neon.db }),
    gauges: withDeadline(
      new RedisGauge({
        redis: redisClient({ url: config.UPSTASH_REDIS_REST_URL, token: config.UPSTASH_REDIS_REST_TOKEN, timeoutMs: config.STORE_TIMEOUT_MS }),
        drainLeaseMs: drainLeaseFor(config.STORE_TIMEOUT_MS),
      }),
      { takeMs: config.TAKE_TIMEOUT_MS, adminMs: config.STORE_TIMEOUT_MS },
    ),
    onLedgerEvent: (couponId, duty) => {
      if (duty) drains.push(drainElected(deps, couponId, duty).then((d) => d.error && workerLog('drain_failed', { couponId, error: String(d.error) })));
    },
    onRefused: (couponId, kind, at) => refusals.add(couponId, kind, at),
    periods: periodClock(config.TIME_ZONE),
    webhooks: new PostgresWebhookRepository({ db: neon.db, targets: webhookTargets(config) }),
    lowStockPercent: config.LOW_STOCK_PERCENT,
  };
  useSoldOutMemo(deps, memoFor(config));
  return {
    deps,
    // After the response: drain the coupons this request was elected for and write the
    // isolate's refusal counts with it (else at most once per ISOLATE_REFUSAL_WRITE_MS), so
    // Postgres is written as often as coupons are drained, not once per isolate; then close the pool.
    release: () => {
      const counts = refusals.due(Date.now(), drains.length > 0 ? 0 : ISOLATE_REFUSAL_WRITE_MS) ? writeRefusals(neon.db) : null;
      waitUntil(Promise.all([...drains, counts]).finally(() => neon.end()));
    },
  };
}

const neonOptions = (config: WorkerConfig) => ({ databaseUrl: config.DATABASE_URL, wsProxy: config.NEON_WS_PROXY, timeoutMs: config.STORE_TIMEOUT_MS });

/** Per isolate and configuration: the HTTP query path holds no connection, so every request shares it. */
const httpDbs = new WeakMap<WorkerConfig, Db>();
function httpDb(config: WorkerConfig): Db {
  let db = httpDbs.get(config);
  if (!db) {
    db = createNeonHttpDb(neonOptions(config));
    httpDbs.set(config, db);
  }
  return db;
}

/**
 * Per configuration: public webhook targets only (unless WEBHOOK_ALLOW_PRIVATE), never our own
 * stores. A Worker cannot resolve names, so a hostname is checked as written; Cloudflare's
 * `fetch` cannot reach private networks, which covers a public name that points inward.
 */
const policies = new WeakMap<WorkerConfig, TargetPolicy>();
function webhookTargets(config: WorkerConfig): TargetPolicy {
  let policy = policies.get(config);
  if (!policy) {
    policy = new TargetPolicy({ allowPrivate: config.WEBHOOK_ALLOW_PRIVATE, deny: [config.UPSTASH_REDIS_REST_URL, config.DATABASE_URL] });
    policies.set(config, policy);
  }
  return policy;
}

/**
 * Per isolate: refusals for the sale chart, written by the `waitUntil` of a request elected to
 * drain, or when an isolate that is never elected has held them this long. Best effort: what an
 * isolate tallied after its last write is lost when it is evicted.
 */
const refusals = new RefusalTally({ waitFirst: true });
const ISOLATE_REFUSAL_WRITE_MS = 60_000;
const writeRefusals = (db: ReturnType<typeof createNeonDb>['db']) =>
  refusals.flush(new PostgresRefusalRepository({ db })).catch((error: unknown) => workerLog('refusal_counts_write_failed', { error: String(error) }));

/**
 * Per isolate and configuration: the sold-out memo (SOLD_OUT_MEMO_MS). Every request of the
 * isolate learns into it and reads from it; another isolate learns on its own.
 */
const memos = new WeakMap<WorkerConfig, SoldOutMemo | null>();
function memoFor(config: WorkerConfig): SoldOutMemo | null {
  if (!memos.has(config)) memos.set(config, soldOutMemo(config.SOLD_OUT_MEMO_MS));
  return memos.get(config) ?? null;
}

/** Per isolate: the current day and week, remembered until they end. */
let clock: PeriodClock | null = null;
const periodClock = (timeZone: string) => (clock?.timeZone === timeZone ? clock : (clock = new PeriodClock(timeZone)));

/**
 * The Worker's numbers are its log lines (Workers Logs, `wrangler tail`, Logpush): one JSON line
 * per request (`event: request`: route pattern, status, code, ms) and per maintenance run.
 */
const workerLog = (event: string, fields: Record<string, unknown>) => console.log(JSON.stringify({ at: new Date().toISOString(), event, ...fields }));

/** How long an all-up `/health` check answers later probes in an isolate. */
const HEALTH_CACHE_MS = 1_000;

type App = ReturnType<typeof createApp>;
const apps = new WeakMap<object, App>();

/** One app per isolate and configuration: route registration is not paid per request. */
function appFor(config: WorkerConfig): App {
  let app = apps.get(config);
  if (!app) {
    app = createApp({
      tokens: { admin: config.ADMIN_API_TOKEN, client: config.CLIENT_API_TOKEN },
      // Every isolate answers probes from one check a second: a probe costs the stores nothing more.
      info: { runtime: 'workerd', db: 'postgres', cacheMs: HEALTH_CACHE_MS },
      deps: (c: Context) => requestScope(config, (p) => c.executionCtx.waitUntil(p)),
      log: workerLog,
    });
    apps.set(config, app);
  }
  return app;
}

function misconfigured(message: string): Response {
  console.error(`coupon-stock: ${message}`);
  const body = problemBody('SERVICE_UNAVAILABLE', 'the service is misconfigured; see the logs', crypto.randomUUID());
  return new Response(JSON.stringify(body), { status: 503, headers: { 'content-type': 'application/problem+json' } });
}

export default {
  async fetch(request: Request, env: object, ctx: ExecutionContext): Promise<Response> {
    const parsed = workerConfig(env);
    if (!parsed.ok) return misconfigured(parsed.message);
    return appFor(parsed.config).fetch(request, env, ctx);
  },

  async scheduled(controller: ScheduledController, env: object, ctx: ExecutionContext): Promise<void> {
    const parsed = workerConfig(env);
    if (!parsed.ok) {
      console.error(`coupon-stock: ${parsed.message}`);
      return;
    }
    const scope = requestScope(parsed.config, (p) => ctx.waitUntil(p));
    const started = Date.now();
    try {
      const summary = await new Maintenance(scope.deps).run();
      workerLog('maintenance', { cron: controller.cron, ...summary, ms: Date.now() - started });
    } catch (error) {
      workerLog('maintenance_failed', { cron: controller.cron, error: String(error), ms: Date.now() - started });
      throw error;
    } finally {
      scope.release?.();
    }
  },
};
