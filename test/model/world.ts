/**
 * The real side of the model test: the app built by `createApp` on real stores, with the
 * faults the model injects wired in between.
 *
 * - `redis`: the Redis gauge (`RedisGauge` + `coalescedRunner`, as `src/node/host.ts` wires it,
 *   the Upstash client's own retries left on) → a fault proxy that can lose answers → the local
 *   Upstash REST endpoint → the real redis-server; ledger drained after takes as the host does.
 * - `resp`: the same gauge over RESP (ioredis, as `REDIS_URL` wires it) → a RESP fault proxy
 *   that can lose script answers (`test/support/resp-fault-proxy.ts`) → the real redis-server.
 * - `postgres`: the Postgres gauge.
 *
 * Both keep coupons and the ledger in a private database on the real PostgreSQL, reached through
 * a TCP link the model can cut. The checks read the stores directly, around every fault.
 */
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { inject } from 'vitest';
import { startUpstashRest, type UpstashRest } from '../../scripts/upstash-rest/server.js';
import { PostgresCouponRepository } from '../../src/adapters/postgres/coupon-repository.js';
import { PostgresLedgerRepository } from '../../src/adapters/postgres/ledger-repository.js';
import { PostgresGauge } from '../../src/adapters/postgres/postgres-gauge.js';
import * as schema from '../../src/adapters/postgres/schema.js';
import { coalescedRunner } from '../../src/adapters/redis/coalesce.js';
import { RedisGauge, redisClient } from '../../src/adapters/redis/redis-gauge.js';
import { respRedis, type RespRedis } from '../../src/adapters/redis/resp.js';
import type { CouponRecord } from '../../src/coupon/coupon.js';
import type { CouponDeps } from '../../src/coupon/deps.js';
import { DRAIN_LEASE_MS, drainElected } from '../../src/coupon/drain.js';
import { withDeadline } from '../../src/stock/deadline.js';
import { nodePool } from '../../src/adapters/postgres/node-pool.js';
import { couponKeys } from '../../src/coupon/keys.js';
import { Maintenance } from '../../src/coupon/maintenance.js';
import { createApp } from '../../src/http/app.js';
import type { GaugePort } from '../../src/stock/gauge.js';
import { postgresDb, type TestDb } from '../support/db.js';
import { startRespFaultProxy } from '../support/resp-fault-proxy.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';

export type GaugeKind = 'redis' | 'postgres' | 'resp';

export const ADMIN = 'model-admin-token-0123456789';
export const CLIENT = 'model-client-token-0123456789';
const TOKEN = 'model-upstash-token';

/** A row of the durable ledger. */
export interface LedgerRow {
  opId: string;
  action: 'take' | 'restore';
  kind: string;
  subject: string;
  ref: string | null;
  value: number | null;
  at: number;
}

/** Reads and damage that go around the service (never through its faults). */
export interface Inspector {
  coupon(id: string): Promise<CouponRecord | null>;
  ledger(id: string): Promise<LedgerRow[]>;
  /** Whether the gauges' policy of the coupon says open (`null`: no policy). */
  policyOpen(id: string): Promise<boolean | null>;
  /** The coupon's Redis keys (empty on the Postgres gauge: its rows are not evicted). */
  keys(id: string): Promise<string[]>;
  deleteKey(key: string): Promise<void>;
}

export interface World {
  kind: GaugeKind;
  readonly app: ReturnType<typeof createApp>;
  readonly deps: CouponDeps;
  /** The service's clock (ms since the epoch); only the model moves it. */
  clock: { now: number };
  readonly maintenance: Maintenance;
  /** Loses Redis answers after they ran (`null` on the Postgres gauge). */
  proxy: FaultProxy | null;
  /** The service's link to PostgreSQL. */
  link: TcpProxy;
  linkDown: boolean;
  inspect: Inspector;
  /** Waits for the ledger drains scheduled after takes. */
  settle(): Promise<void>;
  /** What the app logged for a request answered 500 (by its requestId). */
  errorOf(requestId: string): string | undefined;
  /** Errors of checked-out Postgres clients (the link cut mid-transaction) that nothing else listened to. */
  clientErrors(): number;
  /** Clients of the service's pool checked out now (at rest, none should be). */
  checkedOut(): number;
  /** A fresh service for the next run (pool, adapters, app: a new process on the same stores). */
  renew(): Promise<void>;
  close(): Promise<void>;
}

/** A pool to the database through the link, quick to give up while the link is cut. */
function linkedDb(database: TestDb, link: TcpProxy, lost: { clientErrors: number }) {
  const url = new URL(database.url ?? '');
  url.port = String(link.port);
  // As src/node/host.ts: every connect and every query has a deadline.
  // The host's pool: a broken connection is counted (the host logs it), a broken BEGIN never leaks its client.
  const pool = nodePool({ connectionString: url.toString(), max: 10, connectionTimeoutMillis: 2_000, query_timeout: 5_000 }, () => void (lost.clientErrors += 1));
  return { pool, db: drizzle({ client: pool, schema }) };
}

async function ledgerOf(database: TestDb, id: string): Promise<LedgerRow[]> {
  const rows = await database.db
    .select({ opId: schema.ledger.opId, action: schema.ledger.action, kind: schema.ledger.kind, subject: schema.ledger.subject, ref: schema.ledger.ref, value: schema.ledger.value, at: schema.ledger.at })
    .from(schema.ledger)
    .where(eq(schema.ledger.scope, id));
  return rows.map((r) => ({ ...r, value: r.value === null ? null : Number(r.value), at: r.at.getTime() }));
}

/** One service instance, as one process of the host would hold: its pool, adapters and app. */
interface Service {
  app: World['app'];
  deps: CouponDeps;
  maintenance: Maintenance;
  pool: pg.Pool;
  drains: Set<Promise<unknown>>;
  /** The service's own RESP connection (`resp` only). */
  resp: RespRedis | null;
}

export async function startWorld(kind: GaugeKind): Promise<World> {
  const database = await postgresDb();
  const target = new URL(database.url ?? '');
  const link = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
  const coupons = new PostgresCouponRepository({ db: database.db });
  const rest: UpstashRest | null = kind === 'redis' ? await startUpstashRest({ redisUrl: inject('redisUrl'), token: TOKEN }) : null;
  const redisUrl = new URL(inject('redisUrl'));
  const proxy: FaultProxy | null = rest
    ? await startFaultProxy(rest.url)
    : kind === 'resp'
      ? await startRespFaultProxy({ host: redisUrl.hostname, port: Number(redisUrl.port) })
      : null;
  // Around the faults: the REST endpoint itself, or a RESP connection straight to redis-server.
  const around = kind === 'resp' ? respRedis({ url: inject('redisUrl') }) : null;
  const plain = rest ? redisClient({ url: rest.url, token: TOKEN, retries: 0 }) : null;
  const scanner = plain ?? around?.redis ?? null;
  const direct: GaugePort = around
    ? new RedisGauge({ redis: around.redis, scripts: around.scripts })
    : plain
      ? new RedisGauge({ redis: plain })
      : new PostgresGauge({ db: database.db });
  const clock = { now: 0 };
  const errors = new Map<string, string>();
  const lost = { clientErrors: 0 };

  const startService = (): Service => {
    const linked = linkedDb(database, link, lost);
    // The Redis gauge as the Node host wires it: the Upstash client (its own retries on) and one
    // coalesced pipeline per event-loop turn.
    const redis = proxy && kind === 'redis' ? redisClient({ url: proxy.url, token: TOKEN }) : null;
    // Over RESP: ioredis through the RESP fault proxy (its reconnects and resends left on).
    const resp = proxy && kind === 'resp' ? respRedis({ url: proxy.url, commandTimeoutMs: 10_000 }) : null;
    // Every gauge call behind a deadline, as in production (a store failure is a 503, never a 500),
    // generous enough for a busy 2-core machine (test/deadlines.test.ts has the real ones).
    const gauge = resp
      ? new RedisGauge({ redis: resp.redis, scripts: resp.scripts, drainLeaseMs: DRAIN_LEASE_MS })
      : redis
        ? new RedisGauge({ redis, scripts: coalescedRunner({ redis }), drainLeaseMs: DRAIN_LEASE_MS })
        : new PostgresGauge({ db: linked.db });
    const gauges: GaugePort = withDeadline(gauge, {
      takeMs: 10_000,
      adminMs: 10_000,
    });
    const deps: CouponDeps = {
      coupons: new PostgresCouponRepository({ db: linked.db }),
      ledger: new PostgresLedgerRepository({ db: linked.db }),
      gauges,
      clock: () => clock.now,
    };
    const drains = new Set<Promise<unknown>>();
    if (redis || resp) {
      // As src/node/host.ts: the request the take script elected drains the coupon, round after
      // round while events come (a short interval keeps the runs fast).
      deps.onLedgerEvent = (couponId, duty) => {
        if (!duty) return;
        const drain: Promise<unknown> = drainElected(deps, couponId, duty, { intervalMs: 20 }).finally(() => drains.delete(drain));
        drains.add(drain);
      };
    }
    const app = createApp({
      tokens: { admin: ADMIN, client: CLIENT },
      info: { runtime: 'node', db: 'postgres' },
      deps: () => ({ deps }),
      // The cause of a 500, by request id, for the report (the model sees the answers themselves).
      log: (event, fields) => {
        if (event !== 'unhandled_error') return;
        if (errors.size > 200) errors.clear();
        errors.set(String(fields.requestId), String(fields.error));
      },
    });
    return { app, deps, maintenance: new Maintenance(deps), pool: linked.pool, drains, resp };
  };
  const settle = async (service: Service) => {
    while (service.drains.size > 0) await Promise.allSettled([...service.drains]);
  };
  /** Ends a service's pool; a client never given back would keep it open forever, so then it is not waited for. */
  const stopService = async (service: Service) => {
    await settle(service);
    await service.resp?.close();
    const ended = service.pool.end().catch(() => {});
    if (service.pool.totalCount === service.pool.idleCount) await ended;
  };

  let service = startService();
  const world: World = {
    kind,
    get app() {
      return service.app;
    },
    get deps() {
      return service.deps;
    },
    get maintenance() {
      return service.maintenance;
    },
    clock,
    proxy,
    link,
    linkDown: false,
    inspect: {
      coupon: (id) => coupons.get(id),
      ledger: (id) => ledgerOf(database, id),
      policyOpen: async (id) => (await direct.getPolicy(couponKeys(id).prefix))?.open ?? null,
      keys: async (id) => {
        if (!scanner) return [];
        const found: string[] = [];
        let cursor = '0';
        do {
          const [next, batch] = await scanner.scan(cursor, { match: `${couponKeys(id).prefix}*`, count: 1000 });
          found.push(...batch);
          cursor = String(next);
        } while (cursor !== '0');
        return found.sort();
      },
      deleteKey: async (key) => {
        if (around) await around.client.del(key);
        else await plain?.del(key);
      },
    },
    clientErrors: () => lost.clientErrors,
    errorOf: (requestId) => errors.get(requestId),
    checkedOut: () => service.pool.totalCount - service.pool.idleCount,
    settle: () => settle(service),
    renew: async () => {
      const old = service;
      service = startService();
      await stopService(old);
    },
    close: async () => {
      await stopService(service);
      await proxy?.close();
      await around?.close();
      await rest?.close();
      await link.close();
      await database.close();
    },
  };
  return world;
}
