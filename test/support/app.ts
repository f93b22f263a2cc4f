/**
 * The app wired for HTTP tests: real adapters, fixed tokens, and a clock the test can move. Two
 * configurations (`describeEachGauge` runs a suite on both):
 *
 * - `postgres`: the Postgres gauge on PGlite (the embedded default of `npm start`);
 * - `redis`: the production hot path as the Node host runs it — `RedisGauge` with the host's
 *   coalescer behind the local Upstash REST endpoint over the real redis-server of the global
 *   setup, the durable store on a private database of the real PostgreSQL, and ledger events
 *   drained after takes (`onLedgerEvent` + `DrainScheduler`, as `src/node/host.ts`);
 * - `resp`: the same `RedisGauge` over RESP (ioredis, `REDIS_URL` on the Node host) on the same
 *   redis-server, no REST endpoint in between;
 * - `cluster`: the same over a real 3-master Redis Cluster (`REDIS_CLUSTER_NODES`), started by
 *   the global setup when `TEST_GAUGES` names it.
 *
 * `TEST_GAUGES=redis,postgres,resp,cluster` picks the configurations of the suites that do not
 * name their own (default `redis,postgres`; CI runs the HTTP suites again with `resp,cluster`).
 *
 * Every response of a test app — through `t.call`, `t.app.request` or the app served over HTTP
 * — is checked against the OpenAPI document the app serves (`./openapi-contract.ts`): a status,
 * content type or body the document does not describe fails the request, so the test.
 */
import { afterAll, afterEach, beforeAll, describe, inject } from 'vitest';
import { startUpstashRest, type UpstashRest } from '../../scripts/upstash-rest/server.js';
import { PostgresCouponRepository } from '../../src/adapters/postgres/coupon-repository.js';
import { PostgresLedgerRepository } from '../../src/adapters/postgres/ledger-repository.js';
import { PostgresGauge } from '../../src/adapters/postgres/postgres-gauge.js';
import { PostgresRefusalRepository } from '../../src/adapters/postgres/refusal-repository.js';
import { PostgresWebhookRepository } from '../../src/adapters/postgres/webhook-repository.js';
import { coalescedRunner, type ScriptCoalescer } from '../../src/adapters/redis/coalesce.js';
import { RedisGauge, redisClient } from '../../src/adapters/redis/redis-gauge.js';
import { parseClusterNodes, respRedis, type RespOptions, type RespRedis } from '../../src/adapters/redis/resp.js';
import { withDeadline } from '../../src/stock/deadline.js';
import type { CouponDeps } from '../../src/coupon/deps.js';
import { DrainScheduler, drainCoupons } from '../../src/coupon/drain.js';
import { RefusalRecorder } from '../../src/coupon/refusal-tally.js';
import { soldOutMemo, useSoldOutMemo } from '../../src/coupon/sold-out.js';
import { TargetPolicy, type TargetPolicyOptions } from '../../src/events/targets.js';
import { createApp } from '../../src/http/app.js';
import { pgliteDb, postgresDb, type TestDb } from './db.js';
import { responseContract, type OpenApiDocument, type ResponseContract } from './openapi-contract.js';

export const ADMIN = 'test-admin-token-0123456789';
export const CLIENT = 'test-client-token-0123456789';

/** Where the live gauges are: the Postgres gauge (PGlite) or Redis (the production path). */
export type GaugeKind = 'postgres' | 'redis';
/** How a test app reaches them: `redis` is Upstash REST, `resp` and `cluster` are RESP (ioredis). */
export type GaugeConfig = GaugeKind | 'resp' | 'cluster';
const CONFIGS: readonly GaugeConfig[] = ['redis', 'postgres', 'resp', 'cluster'];

/** The configurations `TEST_GAUGES` names (default `redis,postgres`); an unknown name fails the run. */
function configsFromEnv(value = process.env.TEST_GAUGES): GaugeConfig[] {
  if (!value) return ['redis', 'postgres'];
  return value.split(',').map((name) => {
    const found = CONFIGS.find((c) => c === name.trim());
    if (!found) throw new Error(`TEST_GAUGES: unknown gauge configuration "${name}" (one of ${CONFIGS.join(', ')})`);
    return found;
  });
}
export const GAUGE_KINDS: GaugeConfig[] = configsFromEnv();

/** What `/health` calls each configuration's `gaugeMode`. */
const GAUGE_MODES = { redis: 'upstash', resp: 'redis', cluster: 'cluster', postgres: 'postgres' } as const;

/** The store a configuration keeps its gauges in (what `/health` calls `gauges`). */
export const storeOf = (config: GaugeConfig): GaugeKind => (config === 'postgres' ? 'postgres' : 'redis');

export interface TestAppOptions {
  /** `postgres` (default): the Postgres gauge; `redis`: RedisGauge + coalescer behind the Upstash REST endpoint; `resp`, `cluster`: RedisGauge over ioredis. */
  gauges?: GaugeConfig;
  /** The database (default: PGlite for `postgres`, a private database on the real PostgreSQL for `redis`). */
  open?: () => Promise<TestDb>;
  /** The redis-server of a `redis` or `resp` app (default: the shared one of the global setup). */
  redisUrl?: string;
  /** Seed nodes (`host:port,…`) of a `cluster` app (default: the global setup's cluster). */
  clusterNodes?: string;
  /** More options of a `resp` or `cluster` app's connection (e.g. `waitReplicas`). */
  respOptions?: Omit<RespOptions, 'url' | 'cluster'>;
  /** Where webhooks may go (default: public addresses only, as in production). */
  webhookTargets?: TargetPolicyOptions;
  /** The sold-out memo's window in ms, as SOLD_OUT_MEMO_MS on a host (default 0: off, every take asks the gauge). */
  soldOutMemoMs?: number;
  /** Changes the document responses are checked against (default: as served): the check's own self-test. */
  openapi?: (document: OpenApiDocument) => OpenApiDocument;
}

/** The Redis side of a `redis` app: its REST endpoint (stats, faults), a raw client and the coalescer. */
export interface TestRedis {
  rest: UpstashRest;
  token: string;
  client: ReturnType<typeof redisClient>;
  coalescer: ScriptCoalescer;
}

export interface TestApp {
  app: ReturnType<typeof createApp>;
  deps: CouponDeps;
  db: TestDb;
  gauges: GaugeKind;
  /** How the gauges are reached (`gauges` names only the store). */
  config: GaugeConfig;
  /** The Redis endpoint of a `redis` app, `null` on the Postgres gauge and over RESP. */
  redis: TestRedis | null;
  /** The RESP connection of a `resp` or `cluster` app (its `client` deletes keys behind the gauge's back). */
  resp: RespRedis | null;
  /** The check every response of this app goes through (its counts show it ran). */
  contract: ResponseContract;
  /**
   * Waits until every ledger event a take or cancel left in Redis is in Postgres: the drains
   * scheduled after the responses, then one drain of every coupon taken from (what the
   * schedule does). Reads from the ledger (holdings, a table digest) need it on Redis; the
   * Postgres gauge writes the ledger in the take's own transaction, so there it does nothing
   * but write the refusal counts (as the Node host, they are otherwise written after responses).
   */
  settle(): Promise<void>;
  /** Sets the clock (ms since the epoch); `null` follows the real time again. */
  setNow(ms: number | null): void;
  /** Sends a request with the given token (`null` = none) and JSON body. */
  call(method: string, path: string, options?: { token?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  close(): Promise<void>;
}

const REDIS_TOKEN = 'test-upstash-token';

export async function testApp(options: TestAppOptions | (() => Promise<TestDb>) = {}): Promise<TestApp> {
  const { gauges: config = 'postgres', redisUrl, clusterNodes, respOptions, webhookTargets, openapi, soldOutMemoMs = 0 } = typeof options === 'function' ? {} : options;
  const gauges = storeOf(config);
  const { open = gauges === 'redis' ? postgresDb : pgliteDb } = typeof options === 'function' ? { open: options } : options;
  const db = await open();
  let fixed: number | null = null;
  let redis: TestRedis | null = null;
  let resp: RespRedis | null = null;
  const deps: CouponDeps = {
    coupons: new PostgresCouponRepository({ db: db.db }),
    ledger: new PostgresLedgerRepository({ db: db.db }),
    gauges: new PostgresGauge({ db: db.db }),
    webhooks: new PostgresWebhookRepository({ db: db.db, targets: new TargetPolicy(webhookTargets) }),
    clock: () => fixed ?? Date.now(),
  };
  // As the Node host: refusals counted in process and written in batches after responses.
  const refusals = new RefusalRecorder({ repo: new PostgresRefusalRepository({ db: db.db }) });
  deps.onRefused = (couponId, kind, at) => refusals.refused(couponId, kind, at);
  const drains = new Set<Promise<unknown>>();
  /** Coupons whose stream may hold events no drain has moved yet. */
  const pending = new Set<string>();
  if (config === 'resp' || config === 'cluster') {
    const seeds = config === 'cluster' ? (clusterNodes ?? inject('redisCluster')) : '';
    if (config === 'cluster' && !seeds) throw new Error('no test cluster: set TEST_GAUGES to include cluster (the global setup starts one)');
    resp = respRedis({ ...respOptions, ...(config === 'cluster' ? { cluster: parseClusterNodes(seeds) } : { url: redisUrl ?? inject('redisUrl') }) });
    // As src/node/host.ts, with the generous deadline of the `redis` configuration below.
    deps.gauges = withDeadline(new RedisGauge({ redis: resp.redis, scripts: resp.scripts }), { takeMs: 30_000, adminMs: 30_000 });
  }
  if (gauges === 'redis') {
    // As the Node host: drain a coupon soon after a take, at most once per interval per coupon.
    const scheduler = new DrainScheduler((couponId) => {
      const drain = drainCoupons(deps, [couponId]);
      drains.add(drain);
      return drain.finally(() => drains.delete(drain));
    });
    deps.onLedgerEvent = (couponId) => {
      pending.add(couponId);
      scheduler.taken(couponId);
    };
  }
  if (config === 'redis') {
    const rest = await startUpstashRest({ redisUrl: redisUrl ?? inject('redisUrl'), token: REDIS_TOKEN });
    // As src/node/host.ts: the client's defaults, scripts coalesced per event-loop turn, every call
    // behind a deadline (so a store failure is a 503, never a 500) — a generous one: on a busy CI
    // machine a slow take must not be a 503 here (test/deadlines.test.ts has the host's own).
    const client = redisClient({ url: rest.url, token: REDIS_TOKEN });
    const runner = coalescedRunner({ redis: client });
    deps.gauges = withDeadline(new RedisGauge({ redis: client, scripts: runner }), { takeMs: 30_000, adminMs: 30_000 });
    redis = { rest, token: REDIS_TOKEN, client, coalescer: runner.coalescer };
  }
  // As the Node host: the memo over whichever gauge this app has (its restores forget it).
  useSoldOutMemo(deps, soldOutMemo(soldOutMemoMs, true));
  const settle = async () => {
    await refusals.flush();
    while (drains.size > 0) await Promise.all(drains);
    const ids = [...pending];
    pending.clear();
    const { failed } = await drainCoupons(deps, ids);
    for (const id of failed) pending.add(id);
    if (failed.length > 0) throw new Error(`ledger drain failed for ${failed.join(', ')}`);
  };
  const app = createApp({
    tokens: { admin: ADMIN, client: CLIENT },
    info: { runtime: 'node', db: db.name === 'pglite' ? 'pglite' : 'postgres', gaugeMode: GAUGE_MODES[config] },
    deps: () => ({ deps }),
    log: () => {},
  });
  const contract = await contractOf(app, openapi);
  // Every way into the app goes through `fetch` (`app.request` calls it, so does a server over it).
  const fetch = app.fetch;
  app.fetch = async (request, env, executionCtx) => {
    const response = await fetch(request, env, executionCtx);
    await contract.check(request.method, new URL(request.url).pathname, response);
    return response;
  };
  return {
    app,
    deps,
    db,
    gauges,
    config,
    redis,
    resp,
    contract,
    settle,
    setNow: (ms) => {
      fixed = ms;
    },
    call: (method, path, options = {}) => {
      const headers: Record<string, string> = { ...options.headers };
      const token = options.token === undefined ? ADMIN : options.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (options.body !== undefined) {
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      return Promise.resolve(app.request(path, { method, headers, body }));
    },
    close: async () => {
      await Promise.allSettled([...drains]);
      await redis?.rest.close();
      await resp?.close();
      await db.close();
      // A violation in an app served over HTTP reached its client as a 500; say why here too.
      if (contract.violations.length > 0) throw new Error(`responses broke the OpenAPI document:\n${contract.violations.join('\n')}`);
    },
  };
}

/** The served document (the same for every test app), kept per test file. */
let served: Promise<OpenApiDocument> | null = null;

/** The check for `app`'s responses, against its own `/openapi.json` (changed by `openapi` when given). */
async function contractOf(app: ReturnType<typeof createApp>, openapi?: (document: OpenApiDocument) => OpenApiDocument): Promise<ResponseContract> {
  served ??= Promise.resolve(app.request('/openapi.json')).then((res) => res.json() as Promise<OpenApiDocument>);
  const document = await served;
  return responseContract(openapi ? openapi(structuredClone(document)) : document);
}

/** A `TestApp` that forwards to the app its suite opened (so a suite's tests can name it before it exists). */
class SuiteApp implements TestApp {
  current: TestApp | null = null;
  private get open(): TestApp {
    if (!this.current) throw new Error('the test app is not open: use it inside a test or a hook');
    return this.current;
  }
  get app() {
    return this.open.app;
  }
  get deps() {
    return this.open.deps;
  }
  get db() {
    return this.open.db;
  }
  get gauges() {
    return this.open.gauges;
  }
  get config() {
    return this.open.config;
  }
  get resp() {
    return this.open.resp;
  }
  get redis() {
    return this.open.redis;
  }
  get contract() {
    return this.open.contract;
  }
  settle = () => this.open.settle();
  setNow = (ms: number | null) => this.open.setNow(ms);
  call: TestApp['call'] = (method, path, options) => this.open.call(method, path, options);
  close = () => this.open.close();
}

/**
 * Registers a suite once per gauge configuration, with the configuration in its title:
 * `fn` gets the suite's app (opened with `options` before its first test, closed after its
 * last) and the store it keeps the gauges in (`redis` for the `resp` and `cluster`
 * configurations too: they are the same gauge).
 */
export function describeEachGauge(
  name: string,
  fn: (t: TestApp, gauges: GaugeKind) => void,
  kinds: GaugeConfig[] = GAUGE_KINDS,
  options: Omit<TestAppOptions, 'gauges'> = {},
): void {
  describe.each(kinds)(`${name} (%s gauges)`, (config) => {
    const t = new SuiteApp();
    beforeAll(async () => {
      t.current = await testApp({ ...options, gauges: config });
    });
    afterAll(async () => {
      await t.current?.close();
    });
    fn(t, storeOf(config));
  });
}

/**
 * The HTTP suites' setup, once: a suite per gauge kind (see `describeEachGauge`) with its app,
 * whose clock and time zone are put back after every test, so a test that moves time or sets a
 * zone cannot leak it into the next one.
 */
export function useTestApp(
  name: string,
  fn: (t: TestApp, gauges: GaugeKind) => void,
  kinds: GaugeConfig[] = GAUGE_KINDS,
  options: Omit<TestAppOptions, 'gauges'> = {},
): void {
  describeEachGauge(
    name,
    (t, gauges) => {
      afterEach(() => {
        t.setNow(null);
        t.deps.periods = undefined;
      });
      fn(t, gauges);
    },
    kinds,
    options,
  );
}
