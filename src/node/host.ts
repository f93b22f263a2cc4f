/**
 * The Node host: `@hono/node-server` over the app, PGlite in `DATA_DIR` (or the PostgreSQL
 * named by `DATABASE_URL`), gauges in that database (or in Upstash Redis when `UPSTASH_*` are
 * set, in a Redis over RESP with `REDIS_URL`, in a Redis Cluster with `REDIS_CLUSTER_NODES`), migrations applied at start, the scheduled maintenance on an
 * interval, and a clean shutdown that lets requests and maintenance finish before the
 * database closes.
 */
import { serve, type ServerType } from '@hono/node-server';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { resolve } from 'node:path';
import pg from 'pg';
import { PostgresCouponRepository } from '../adapters/postgres/coupon-repository.js';
import type { Db } from '../adapters/postgres/db.js';
import { PostgresLedgerRepository } from '../adapters/postgres/ledger-repository.js';
import { nodePool } from '../adapters/postgres/node-pool.js';
import { MIGRATIONS_FOLDER, openEmbedded } from '../adapters/postgres/pglite.js';
import { PostgresGauge } from '../adapters/postgres/postgres-gauge.js';
import { PostgresRefusalRepository } from '../adapters/postgres/refusal-repository.js';
import { PostgresWebhookRepository } from '../adapters/postgres/webhook-repository.js';
import { coalescedRunner } from '../adapters/redis/coalesce.js';
import { evictionPolicy, mayEvict } from '../adapters/redis/eviction.js';
import { RedisGauge, redisClient } from '../adapters/redis/redis-gauge.js';
import { respRedis, type RespRedis } from '../adapters/redis/resp.js';
import * as schema from '../adapters/postgres/schema.js';
import type { CouponDeps } from '../coupon/deps.js';
import { drainElected, drainLeaseFor } from '../coupon/drain.js';
import { Maintenance } from '../coupon/maintenance.js';
import { RefusalRecorder } from '../coupon/refusal-tally.js';
import { soldOutMemo, useSoldOutMemo } from '../coupon/sold-out.js';
import { TargetPolicy } from '../events/targets.js';
import { createApp } from '../http/app.js';
import { withDeadline } from '../stock/deadline.js';
import type { GaugePort } from '../stock/gauge.js';
import { PeriodClock } from '../stock/periods.js';
import { observedGauge } from '../observe/metrics.js';
import { redisLedgerBacklog, webhookBacklog } from './backlogs.js';
import { nodeDocsAssets } from './docs-assets.js';
import { resolveAll } from './dns.js';
import { prometheusMetrics } from './prometheus.js';
import { ensureDataDir, gaugeMode, loadTokens, type NodeConfig, type TokenPair } from './config.js';

export interface NodeHost {
  url: string;
  port: number;
  tokens: TokenPair;
  /** Runs the scheduled maintenance once (also done on the interval). */
  maintain(): Promise<void>;
  /** Stops accepting requests, waits for running work, closes the database. */
  stop(): Promise<void>;
}

interface Store {
  db: Db;
  kind: 'pglite' | 'postgres';
  close(): Promise<void>;
}

async function openStore(config: NodeConfig): Promise<Store> {
  if (config.DATABASE_URL) {
    const connect = { connectionString: config.DATABASE_URL, connectionTimeoutMillis: config.STORE_TIMEOUT_MS };
    // Migrations on their own connection, without the query timeout: an index build may take long.
    const migrator = new pg.Client(connect);
    await migrator.connect();
    try {
      await migrate(drizzle({ client: migrator, schema }), { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      await migrator.end();
    }
    // Every connect (and every wait for a free connection) and every query has a deadline: a
    // database that is down or hangs answers 503 (`src/http/store-failure.ts`), never a hang.
    // Client-side, not `statement_timeout`: a transaction pooler (PgBouncer) refuses that
    // startup parameter.
    // A connection that breaks is reported, never a crash; a broken BEGIN never leaks its client.
    const pool = nodePool({ ...connect, max: 10, query_timeout: config.STORE_TIMEOUT_MS }, (error) => log('database_connection_lost', { error: error.message }));
    const db = drizzle({ client: pool, schema });
    return { db, kind: 'postgres', close: () => pool.end() };
  }
  const embedded = await openEmbedded(resolve(config.DATA_DIR, 'pglite'));
  return { db: embedded.db, kind: 'pglite', close: embedded.close };
}

/** Upstash gauges whose scripts share one request per event-loop turn (one process serves every request). */
function redisGauge(url: string, token: string, config: NodeConfig): RedisGauge {
  const redis = redisClient({ url, token, timeoutMs: config.STORE_TIMEOUT_MS });
  return new RedisGauge({ redis, scripts: coalescedRunner({ redis }), drainLeaseMs: drainLeaseFor(config.STORE_TIMEOUT_MS) });
}

/**
 * The gauges, every call with a deadline. On Redis a take has `TAKE_TIMEOUT_MS`. The Postgres
 * gauge's take waits for its batch's transaction (group commit: batches queue behind each other
 * on a hot coupon, README), so its takes get `STORE_TIMEOUT_MS` like every other query.
 */
function gauges(config: NodeConfig, store: Store, resp: RespRedis | null, postgres: PostgresGauge): GaugePort {
  const adminMs = config.STORE_TIMEOUT_MS;
  if (resp) {
    // ioredis pipelines the scripts of one event-loop turn itself (enableAutoPipelining).
    return withDeadline(new RedisGauge({ redis: resp.redis, scripts: resp.scripts, drainLeaseMs: drainLeaseFor(adminMs) }), { takeMs: config.TAKE_TIMEOUT_MS, adminMs });
  }
  if (config.UPSTASH_REDIS_REST_URL && config.UPSTASH_REDIS_REST_TOKEN) {
    return withDeadline(redisGauge(config.UPSTASH_REDIS_REST_URL, config.UPSTASH_REDIS_REST_TOKEN, config), { takeMs: config.TAKE_TIMEOUT_MS, adminMs });
  }
  return withDeadline(postgres, { takeMs: adminMs, adminMs });
}

const log = (event: string, fields: Record<string, unknown>) =>
  console.log(JSON.stringify({ at: new Date().toISOString(), event, ...fields }));

/**
 * Refuses to start on a Redis that may evict keys: a lost counter or idempotency record must
 * never be something memory pressure can cause. Where the policy cannot be read (Upstash) the
 * README says what to check.
 */
async function refuseEviction(config: NodeConfig, resp: RespRedis | null): Promise<void> {
  if (resp) {
    // Every node of a cluster (replicas too: a promoted replica must not evict either).
    let policies: { node: string; policy: string | null }[];
    try {
      policies = await withTimeout(resp.evictionPolicies(), config.STORE_TIMEOUT_MS);
    } catch (error) {
      throw new Error(`Redis (${resp.mode}) did not answer: ${error instanceof Error ? error.message : String(error)}`);
    }
    const evicting = policies.find((p) => p.policy !== null && mayEvict(p.policy));
    if (evicting) throw new Error(`Redis maxmemory-policy is ${evicting.policy} on ${evicting.node}: it may evict counters and idempotency records; set it to noeviction`);
    // Decided before the first take (REDIS_WAIT_REPLICAS=auto reads the replicas now), and said.
    const waitReplicas = await withTimeout(resp.replication(), config.STORE_TIMEOUT_MS);
    log('gauge-replication', { mode: resp.mode, waitReplicas, synchronous: waitReplicas > 0 });
    return;
  }
  if (!config.UPSTASH_REDIS_REST_URL || !config.UPSTASH_REDIS_REST_TOKEN) return;
  const policy = await evictionPolicy(config.UPSTASH_REDIS_REST_URL, config.UPSTASH_REDIS_REST_TOKEN);
  if (policy !== null && mayEvict(policy)) {
    throw new Error(`Redis maxmemory-policy is ${policy}: it may evict counters and idempotency records; set it to noeviction`);
  }
}

/** `promise`, or a rejection after `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The RESP connection when `REDIS_URL` or `REDIS_CLUSTER_NODES` is set. */
function openResp(config: NodeConfig): RespRedis | null {
  if (!config.REDIS_URL && !config.REDIS_CLUSTER_NODES) return null;
  return respRedis({
    url: config.REDIS_URL,
    cluster: config.REDIS_CLUSTER_NODES,
    password: config.REDIS_PASSWORD,
    username: config.REDIS_USERNAME,
    commandTimeoutMs: config.STORE_TIMEOUT_MS,
    waitReplicas: config.REDIS_WAIT_REPLICAS,
    connections: config.REDIS_CONNECTIONS,
    waitTimeoutMs: config.REDIS_WAIT_TIMEOUT_MS,
  });
}

export async function startNodeHost(config: NodeConfig): Promise<NodeHost> {
  // Before anything writes there (tokens.json, PGlite, which creates only its own folder).
  await ensureDataDir(config);
  const resp = openResp(config);
  try {
    await refuseEviction(config, resp);
  } catch (error) {
    await resp?.close();
    throw error;
  }
  const tokens = await loadTokens(config);
  const store = await openStore(config);
  const upstash = config.UPSTASH_REDIS_REST_URL && config.UPSTASH_REDIS_REST_TOKEN ? { url: config.UPSTASH_REDIS_REST_URL, token: config.UPSTASH_REDIS_REST_TOKEN } : null;
  // Backlogs are read when Prometheus scrapes. On the Postgres gauge no ledger event waits: the
  // take writes its ledger row in its own transaction.
  const ledgerBacklog = resp
    ? redisLedgerBacklog({ redis: resp.backlog, coupons: new PostgresCouponRepository({ db: store.db }) })
    : upstash
    ? redisLedgerBacklog({ redis: redisClient({ ...upstash, timeoutMs: config.STORE_TIMEOUT_MS }), coupons: new PostgresCouponRepository({ db: store.db }) })
    : () => Promise.resolve({ events: 0, oldestSeconds: 0 });
  // Built whatever the gauges are (it holds no connection of its own); used when no Redis is set.
  const postgresGauge = new PostgresGauge({ db: store.db });
  const metrics = prometheusMetrics({ ledger: ledgerBacklog, webhooks: webhookBacklog(store.db) });
  const deps: CouponDeps = {
    coupons: new PostgresCouponRepository({ db: store.db }),
    ledger: new PostgresLedgerRepository({ db: store.db }),
    // Upstash when configured (the production hot path), else gauges in the same database.
    gauges: observedGauge(gauges(config, store, resp, postgresGauge), metrics),
    periods: new PeriodClock(config.TIME_ZONE),
    webhooks: new PostgresWebhookRepository({
      db: store.db,
      // Public targets only (unless WEBHOOK_ALLOW_PRIVATE), checked on every address a name resolves to; never our own stores.
      targets: new TargetPolicy({ allowPrivate: config.WEBHOOK_ALLOW_PRIVATE, resolve: resolveAll, deny: [config.UPSTASH_REDIS_REST_URL, config.DATABASE_URL, config.REDIS_URL, ...(config.REDIS_CLUSTER_NODES ?? []).map((n) => `redis://${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`)] }),
    }),
    lowStockPercent: config.LOW_STOCK_PERCENT,
  };
  // Refusals for the sale chart: counted in process, written in batches after responses.
  const refusals = new RefusalRecorder({
    repo: new PostgresRefusalRepository({ db: store.db }),
    onError: (error) => log('refusal_counts_write_failed', { error: String(error) }),
  });
  deps.onRefused = (couponId, kind, at) => refusals.refused(couponId, kind, at);
  // One memo per process: a sold-out stock answers takes from memory for SOLD_OUT_MEMO_MS.
  useSoldOutMemo(deps, soldOutMemo(config.SOLD_OUT_MEMO_MS, true));
  deps.onRemembered = (_couponId, kind) => metrics.remembered(kind);
  // Ledger events wait in Redis streams; the take script elects one drainer per coupon among
  // every host sharing the Redis (and every Worker isolate), which drains once per interval
  // while takes come. On the Postgres gauge the take writes its ledger row itself.
  const drainers = new Set<Promise<unknown>>();
  let closing = false;
  // A stopping host's drainers run one last round at once, which gives their leases up.
  const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  deps.onLedgerEvent = (couponId, duty) => {
    if (!duty) return;
    const drainer: Promise<unknown> = drainElected(deps, couponId, duty, { wait, stopping: () => closing })
      .then((d) => d.error && !closing && log('drain_failed', { couponId, error: String(d.error) }))
      .finally(() => drainers.delete(drainer));
    drainers.add(drainer);
  };
  const scope = { deps };
  const app = createApp({
    tokens,
    info: { runtime: 'node', db: store.kind, gaugeMode: gaugeMode(config) },
    deps: () => scope,
    docs: await nodeDocsAssets(),
    log: (event, fields) => log(event, fields),
    metrics,
    metricsToken: config.METRICS_TOKEN,
  });

  const maintenance = new Maintenance(deps);
  let running: Promise<void> | null = null;
  const maintain = (): Promise<void> => {
    // One run at a time; a tick that finds one running waits for it instead of starting another.
    const started = performance.now();
    const ms = () => Math.round(performance.now() - started);
    running ??= maintenance
      .run()
      .then((summary) => {
        metrics.maintenance(summary);
        log('maintenance', { ...summary, ms: ms() });
      })
      .catch((error: unknown) => {
        metrics.maintenance(null);
        log('maintenance_failed', { error: String(error), ms: ms() });
      })
      .finally(() => {
        running = null;
      });
    return running;
  };
  const timer = setInterval(() => void maintain(), config.MAINTENANCE_INTERVAL_SECONDS * 1000);
  timer.unref();

  const server = await new Promise<ServerType>((ready) => {
    const s = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, () => ready(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const shownHost = config.HOST === '0.0.0.0' || config.HOST === '::' ? 'localhost' : config.HOST;

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      clearInterval(timer);
      await new Promise<void>((done) => server.close(() => done()));
      // Drainers run their last round now; the store closes after it.
      closing = true;
      await Promise.all(drainers);
      await running;
      await refusals.flush();
      // The group commit's figures over the process's life (the benchmark reads them here).
      const batches = postgresGauge.batchStats();
      if (deps.gauges.name === 'postgres' && batches && batches.batches > 0) log('gauge_batches', { ...batches });
      await store.close();
      await resp?.close();
    })());

  return { url: `http://${shownHost}:${port}`, port, tokens, maintain, stop };
}
