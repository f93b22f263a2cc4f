/**
 * Bounded failure: every store call has a deadline, and a store that is down or hangs answers
 * 503 with a stable code within it — never 500, never a hang. The real Node host (in process,
 * configured by environment) and the built Worker in workerd, each behind a fault proxy in front
 * of the real local Upstash REST endpoint and a real PostgreSQL.
 *
 * The time bounds are correctness bounds (the deadline took effect), not performance claims:
 * each is the configured deadline plus a wide margin for a loaded two-core CI box. Without the
 * deadlines a take waited 4.4 s for the Upstash client's retries (endpoint down) and ~5 min for
 * undici's header timeout (endpoint hangs).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildWorker } from '../scripts/build-worker.js';
import { startNeonProxy } from '../scripts/neon-proxy/proxy.js';
import { startUpstashRest, type UpstashRest } from '../scripts/upstash-rest/server.js';
import { coalescedRunner } from '../src/adapters/redis/coalesce.js';
import { RedisGauge, redisClient } from '../src/adapters/redis/redis-gauge.js';
import { parseEnv } from '../src/node/config.js';
import { startNodeHost, type NodeHost } from '../src/node/host.js';
import { withDeadline } from '../src/stock/deadline.js';
import { StoreUnavailable } from '../src/stock/errors.js';
import type { GaugePort, LedgerEvent } from '../src/stock/gauge.js';
import { workerConfig } from '../src/worker/env.js';
import { freshScope, opIdOf } from './contract/gauge-fixture.js';
import { postgresDb, type TestDb } from './support/db.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';
import {
  ADMIN,
  ADMIN_BOUND_MS,
  CLIENT,
  databaseRoutes,
  expectHealthDown,
  gaugeRoutes,
  liveCoupon,
  sender,
  STORE_TIMEOUT_MS,
  TAKE_BOUND_MS,
  targetOf,
  through,
  timings,
  type Send,
} from './support/outage.js';

const REDIS_TOKEN = 'deadlines-upstash-token';

afterAll(() => {
  console.log(`deadlines: measured answers\n${timings.join('\n')}`);
});

describe('configuration', () => {
  const worker = { UPSTASH_REDIS_REST_URL: 'https://x.upstash.io', UPSTASH_REDIS_REST_TOKEN: 't', DATABASE_URL: 'postgres://u:p@h/db', ADMIN_API_TOKEN: ADMIN, CLIENT_API_TOKEN: CLIENT };

  it('defaults to 300 ms for a take and 5 s for every other store call, both settable, nonsense refused', () => {
    const node = parseEnv({});
    expect(node.ok && [node.config.TAKE_TIMEOUT_MS, node.config.STORE_TIMEOUT_MS]).toEqual([300, 5_000]);
    const set = parseEnv({ TAKE_TIMEOUT_MS: '150', STORE_TIMEOUT_MS: '2000' });
    expect(set.ok && [set.config.TAKE_TIMEOUT_MS, set.config.STORE_TIMEOUT_MS]).toEqual([150, 2_000]);
    for (const bad of [{ TAKE_TIMEOUT_MS: 'soon' }, { STORE_TIMEOUT_MS: '0' }, { TAKE_TIMEOUT_MS: '1.5' }]) {
      const parsed = parseEnv(bad);
      expect(parsed.ok, JSON.stringify(bad)).toBe(false);
      if (!parsed.ok) expect(parsed.message).toMatch(/TIMEOUT_MS/);
    }
    const bindings = workerConfig({ ...worker });
    expect(bindings.ok && [bindings.config.TAKE_TIMEOUT_MS, bindings.config.STORE_TIMEOUT_MS]).toEqual([300, 5_000]);
    // A Worker var may arrive as a number.
    const numeric = workerConfig({ ...worker, TAKE_TIMEOUT_MS: 250 });
    expect(numeric.ok && numeric.config.TAKE_TIMEOUT_MS).toBe(250);
  });
});

describe('the gauge with deadlines (RedisGauge and the coalescer behind a fault proxy)', () => {
  const TAKE_MS = 300;
  const ADMIN_MS = 500;
  let rest: UpstashRest;
  let proxy: FaultProxy;
  let gauge: GaugePort;

  beforeAll(async () => {
    rest = await startUpstashRest({ redisUrl: inject('redisUrl'), token: REDIS_TOKEN });
    proxy = await startFaultProxy({ host: '127.0.0.1', port: rest.port });
    const redis = redisClient({ url: `http://${proxy.address}`, token: REDIS_TOKEN, timeoutMs: 2_000 });
    gauge = withDeadline(new RedisGauge({ redis, scripts: coalescedRunner({ redis }) }), { takeMs: TAKE_MS, adminMs: ADMIN_MS });
  });
  afterAll(async () => {
    await proxy?.close();
    await rest?.close();
  });

  /** What the call rejected with, and after how long. */
  async function rejection(run: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
    const started = performance.now();
    try {
      await run();
    } catch (error) {
      return { error, ms: performance.now() - started };
    }
    throw new Error('expected a rejection');
  }

  it('passes answers through; a hung take rejects with StoreUnavailable at its deadline, a refused one at once', async () => {
    const scope = await freshScope(gauge, 5);
    expect((await scope.take()).ok).toBe(true);
    await proxy.set('hang');
    try {
      const hung = await rejection(() => scope.take());
      timings.push(`  gauge, REST hangs: take rejected after ${Math.round(hung.ms)} ms (deadline ${TAKE_MS} ms)`);
      expect(hung.error).toBeInstanceOf(StoreUnavailable);
      expect(hung.error).toMatchObject({ store: 'gauge', operation: 'take', deadlineMs: TAKE_MS, timedOut: true });
      expect(hung.ms).toBeGreaterThanOrEqual(TAKE_MS - 5);
      expect(hung.ms).toBeLessThan(TAKE_BOUND_MS);
      await proxy.set('down');
      const refused = await rejection(() => scope.take());
      timings.push(`  gauge, REST down: take rejected after ${Math.round(refused.ms)} ms`);
      expect(refused.error).toMatchObject({ store: 'gauge', operation: 'take', timedOut: false });
      expect((refused.error as Error).cause).toBeDefined();
      expect(refused.ms).toBeLessThan(TAKE_MS);
    } finally {
      await proxy.set('pass');
    }
    // Neither reached Redis: one taken, four left.
    expect(await scope.remainOf()).toBe(4);
  });

  it('an answer lost after Redis ran the take: the client retries within the deadline, replays, and takes once', async () => {
    const scope = await freshScope(gauge, 5);
    rest.faults.failNext(1, 'timeout-after', 20);
    const started = performance.now();
    const result = await scope.take({ idempotencyKey: 'lost-answer' });
    const ms = performance.now() - started;
    timings.push(`  gauge, answer lost after the script ran: take answered (replayed) after ${Math.round(ms)} ms`);
    expect(result).toMatchObject({ ok: true, replayed: true });
    expect(ms).toBeLessThan(TAKE_MS);
    expect(await scope.remainOf()).toBe(4);
  });

  it("a drain's deadline counts the gauge's time only; a failed write passes through as it is", async () => {
    const scope = await freshScope(gauge, 10);
    for (let i = 0; i < 3; i++) opIdOf(await scope.take({ user: `u${i}` }));
    const moved: LedgerEvent[] = [];
    // A write slower than the admin deadline: the durable store's time, bounded by its own timeouts.
    const slowWrite = async (events: LedgerEvent[]) => {
      await new Promise((resolve) => setTimeout(resolve, ADMIN_MS + 300));
      moved.push(...events);
    };
    expect(await gauge.drain(scope.prefix, slowWrite)).toBe(3);
    expect(moved).toHaveLength(3);

    opIdOf(await scope.take({ user: 'u3' }));
    const refused = new Error('the database refused the batch');
    const failed = await rejection(() => gauge.drain(scope.prefix, () => Promise.reject(refused)));
    expect(failed.error).toBe(refused);
    // Nothing was forgotten: the event is still there for the next drain.
    expect(await gauge.drain(scope.prefix, async (events) => void moved.push(...events))).toBe(1);
    expect(moved).toHaveLength(4);

    await proxy.set('hang');
    try {
      const hung = await rejection(() => gauge.drain(scope.prefix, slowWrite));
      expect(hung.error).toMatchObject({ store: 'gauge', operation: 'drain', deadlineMs: ADMIN_MS });
      expect(hung.ms).toBeLessThan(ADMIN_BOUND_MS);
    } finally {
      await proxy.set('pass');
    }
  });
});

describe('node host', () => {
  let rest: UpstashRest;
  let db: TestDb;
  let restProxy: FaultProxy;
  let pgProxy: FaultProxy;
  let host: NodeHost;
  let dataDir: string;
  let send: Send;
  let coupon: { id: string; issueId: string };

  beforeAll(async () => {
    [rest, db] = await Promise.all([startUpstashRest({ redisUrl: inject('redisUrl'), token: REDIS_TOKEN }), postgresDb()]);
    restProxy = await startFaultProxy({ host: '127.0.0.1', port: rest.port });
    pgProxy = await startFaultProxy(targetOf(db.url ?? ''));
    dataDir = await mkdtemp(join(tmpdir(), 'cs-deadlines-'));
    const parsed = parseEnv({
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      DATABASE_URL: through(db.url ?? '', pgProxy),
      UPSTASH_REDIS_REST_URL: `http://${restProxy.address}`,
      UPSTASH_REDIS_REST_TOKEN: REDIS_TOKEN,
      ADMIN_API_TOKEN: ADMIN,
      CLIENT_API_TOKEN: CLIENT,
      STORE_TIMEOUT_MS: String(STORE_TIMEOUT_MS),
    });
    if (!parsed.ok) throw new Error(parsed.message);
    host = await startNodeHost(parsed.config);
    send = sender(host.url);
    coupon = await liveCoupon(send);
  }, 60_000);

  afterAll(async () => {
    await restProxy?.set('pass');
    await pgProxy?.set('pass');
    await host?.stop();
    await Promise.all([restProxy?.close(), pgProxy?.close(), rest?.close()]);
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('REST endpoint down (connection refused): every gauge route answers 503 STOCK_UNAVAILABLE within its deadline', async () => {
    await restProxy.set('down');
    try {
      await gaugeRoutes(send, 'node, REST down', coupon);
      await expectHealthDown(send, 'node, REST down', 'gauges');
    } finally {
      await restProxy.set('pass');
    }
  });

  it('REST endpoint hangs: every gauge route answers 503 STOCK_UNAVAILABLE within its deadline, none hangs', async () => {
    await restProxy.set('hang');
    try {
      await gaugeRoutes(send, 'node, REST hangs', coupon);
      await expectHealthDown(send, 'node, REST hangs', 'gauges');
    } finally {
      await restProxy.set('pass');
    }
    // Back to normal at once: a take after the outage is served (the retry of a 503 take).
    const retried = await send('POST', `/v1/coupons/${coupon.id}/issues`, { token: CLIENT, body: { userId: 'u1' }, headers: { 'idempotency-key': 'k-after' } });
    expect(retried.status).toBe(201);
  });

  it('Postgres unreachable (refused, then hanging): admin routes answer 503 SERVICE_UNAVAILABLE, takes still work', async () => {
    for (const mode of ['down', 'hang'] as const) {
      await pgProxy.set(mode);
      try {
        await databaseRoutes(send, `node, Postgres ${mode}`, coupon.id);
        await expectHealthDown(send, `node, Postgres ${mode}`, 'db');
        // The hot path never touches Postgres.
        const take = await send('POST', `/v1/coupons/${coupon.id}/issues`, { token: CLIENT, body: { userId: `pg-${mode}` } });
        expect(take.status).toBe(201);
      } finally {
        await pgProxy.set('pass');
      }
    }
    expect((await send('GET', `/v1/coupons/${coupon.id}`)).status).toBe(200);
  });
});

describe('worker in workerd', () => {
  let rest: UpstashRest;
  let db: TestDb;
  let restProxy: FaultProxy;
  let pgProxy: FaultProxy;
  let neonProxy: Awaited<ReturnType<typeof startNeonProxy>>;
  let mf: Miniflare;
  let send: Send;
  let coupon: { id: string; issueId: string };

  beforeAll(async () => {
    let bundle: Awaited<ReturnType<typeof buildWorker>>;
    [bundle, rest, db] = await Promise.all([buildWorker(), startUpstashRest({ redisUrl: inject('redisUrl'), token: REDIS_TOKEN }), postgresDb()]);
    restProxy = await startFaultProxy({ host: '127.0.0.1', port: rest.port });
    pgProxy = await startFaultProxy(targetOf(db.url ?? ''));
    const databaseUrl = through(db.url ?? '', pgProxy);
    // The Neon proxy reaches the database through the fault proxy, and only it. (Its options are
    // being extended with `targets` and a per-start secret: written to work with either shape.)
    neonProxy = await startNeonProxy({ targets: [new URL(databaseUrl).host] } as Parameters<typeof startNeonProxy>[0]);
    const shape: { url: string; wsProxy?: string } = neonProxy;
    const wsProxy = shape.wsProxy ?? shape.url.replace(/^ws:\/\//, '');
    mf = new Miniflare({
      modules: true,
      scriptPath: bundle.path,
      compatibilityDate: '2026-04-01',
      bindings: {
        UPSTASH_REDIS_REST_URL: `http://${restProxy.address}`,
        UPSTASH_REDIS_REST_TOKEN: REDIS_TOKEN,
        DATABASE_URL: databaseUrl,
        ADMIN_API_TOKEN: ADMIN,
        CLIENT_API_TOKEN: CLIENT,
        NEON_WS_PROXY: wsProxy,
        STORE_TIMEOUT_MS: String(STORE_TIMEOUT_MS),
      },
    });
    await mf.ready;
    send = sender('http://worker.local', (url, init) => mf.dispatchFetch(url, init as never) as unknown as Promise<Response>);
    coupon = await liveCoupon(send);
  }, 120_000);

  afterAll(async () => {
    await mf?.dispose();
    await Promise.all([restProxy?.close(), pgProxy?.close(), rest?.close(), neonProxy?.close()]);
    await db?.close();
  });

  it('REST endpoint hangs: every gauge route answers 503 STOCK_UNAVAILABLE within its deadline', async () => {
    await restProxy.set('hang');
    try {
      await gaugeRoutes(send, 'worker, REST hangs', coupon);
      await expectHealthDown(send, 'worker, REST hangs', 'gauges');
    } finally {
      await restProxy.set('pass');
    }
  });

  it('Postgres unreachable behind the Neon proxy: admin routes answer 503 SERVICE_UNAVAILABLE', async () => {
    for (const mode of ['down', 'hang'] as const) {
      await pgProxy.set(mode);
      try {
        await databaseRoutes(send, `worker, Postgres ${mode}`, coupon.id);
        await expectHealthDown(send, `worker, Postgres ${mode}`, 'db');
      } finally {
        await pgProxy.set('pass');
      }
    }
  });
});
