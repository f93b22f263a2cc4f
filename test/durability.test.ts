/**
 * Nothing lost: the Redis path (a private redis-server behind the local Upstash REST endpoint,
 * so FLUSHALL is safe here) with Postgres behind a TCP link the test can cut. Covers a Postgres
 * outage during a sale, recovery after Redis loses everything, overlapping schedules, and
 * archival leaving no key behind.
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureRedis, type RunningServer } from '../scripts/local/servers.js';
import { startUpstashRest, type UpstashRest } from '../scripts/upstash-rest/server.js';
import { PostgresCouponRepository } from '../src/adapters/postgres/coupon-repository.js';
import { PostgresLedgerRepository } from '../src/adapters/postgres/ledger-repository.js';
import * as schema from '../src/adapters/postgres/schema.js';
import { RedisGauge, redisClient } from '../src/adapters/redis/redis-gauge.js';
import { CouponAdmin } from '../src/coupon/admin.js';
import { unlimitedSpec, type CouponSpec } from '../src/coupon/coupon.js';
import type { CouponDeps } from '../src/coupon/deps.js';
import { DrainThrottle, drainCoupons } from '../src/coupon/drain.js';
import { Maintenance } from '../src/coupon/maintenance.js';
import { CouponTakes, type TakeInput } from '../src/coupon/takes.js';
import type { LedgerEvent } from '../src/stock/gauge.js';
import { postgresDb, type TestDb } from './support/db.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

const TOKEN = 'durability-token';
let redis: RunningServer;
let rest: UpstashRest;
let database: TestDb;
let link: TcpProxy;
let pool: pg.Pool;
let clock = Date.now();
let deps: CouponDeps;
let admin: CouponAdmin;
let takes: CouponTakes;
let maintenance: Maintenance;

beforeAll(async () => {
  redis = await ensureRedis();
  rest = await startUpstashRest({ redisUrl: redis.url, token: TOKEN });
  database = await postgresDb();
  const url = new URL(database.url ?? '');
  link = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
  url.port = String(link.port);
  pool = new pg.Pool({ connectionString: url.toString(), max: 5, connectionTimeoutMillis: 2_000 });
  pool.on('error', () => {}); // idle clients die when the link is cut; the next query reconnects
  const db = drizzle({ client: pool, schema });
  deps = {
    coupons: new PostgresCouponRepository({ db }),
    ledger: new PostgresLedgerRepository({ db }),
    gauges: new RedisGauge({ redis: redisClient({ url: rest.url, token: TOKEN, retries: 0 }) }),
    clock: () => clock,
  };
  admin = new CouponAdmin(deps);
  takes = new CouponTakes(deps);
  maintenance = new Maintenance(deps);
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await link?.close();
  await database?.close();
  await rest?.close();
  await redis?.stop();
});

async function liveCoupon(over: Partial<CouponSpec>): Promise<string> {
  const created = await admin.create(unlimitedSpec('durable', over));
  if (!created.ok) throw new Error(created.detail);
  const confirmed = await admin.confirm(created.value.id);
  if (!confirmed.ok) throw new Error(confirmed.detail);
  return created.value.id;
}

const input = (couponId: string, userId: string): TakeInput => ({
  couponId,
  userId,
  idempotencyKey: null,
  caller: 'test',
  fingerprint: userId,
});

const upstash = () => redisClient({ url: rest.url, token: TOKEN, retries: 0 });

async function keysOf(couponId: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await upstash().scan(cursor, { match: `cs:{c:${couponId}}:*`, count: 1000 });
    keys.push(...batch);
    cursor = String(next);
  } while (cursor !== '0');
  return keys;
}

describe('nothing lost on the Redis path', () => {
  it('keeps selling through a Postgres outage and records every take once it is back', async () => {
    const id = await liveCoupon({ issueStock: { total: 100 }, perUserIssueLimit: 1 });
    for (let i = 0; i < 30; i++) expect((await takes.issue(input(id, `before-${i}`))).ok).toBe(true);
    await link.cut();
    const during = await Promise.all(Array.from({ length: 40 }, (_, i) => takes.issue(input(id, `during-${i}`))));
    expect(during.every((r) => r.ok)).toBe(true);
    for (const r of during.slice(0, 5)) if (r.ok) expect((await takes.cancelIssue(id, r.value.id)).ok).toBe(true);
    await expect(maintenance.run()).rejects.toThrow();
    expect(await upstash().xlen(`cs:{c:${id}}:ledger`)).toBe(75);
    await link.restore();
    const summary = await maintenance.run();
    expect(summary.failed).toEqual([]);
    expect(summary.drifted).toEqual([]);
    expect(await upstash().xlen(`cs:{c:${id}}:ledger`)).toBe(0);
    const report = await maintenance.sync(id);
    expect(report.ok && report.value.issue).toMatchObject({ total: 100, remain: 35, ledger: 65, drift: 0 });
  });

  it('fails closed when Redis loses everything, rebuilds from the ledger, and never oversells', async () => {
    const id = await liveCoupon({ issueStock: { total: 10 }, useStock: { total: 10 }, perUserIssueLimit: 1, perUserUseLimit: 1 });
    const issued: Record<string, string> = {};
    for (const user of ['a', 'b', 'c', 'd', 'e', 'f']) {
      const r = await takes.issue(input(id, user));
      if (!r.ok) throw new Error(r.detail);
      issued[user] = r.value.id;
    }
    for (const user of ['a', 'b']) expect((await takes.use(input(id, user))).ok).toBe(true);
    expect((await takes.cancelIssue(id, issued.c ?? '')).ok).toBe(true);
    await maintenance.run(); // drains: from here the ledger knows every take
    await upstash().flushall();

    expect(await takes.issue(input(id, 'g'))).toMatchObject({ ok: false, code: 'STOCK_UNAVAILABLE' });
    expect(await takes.use(input(id, 'd'))).toMatchObject({ ok: false, code: 'STOCK_UNAVAILABLE' });
    expect(await admin.live(id)).toMatchObject({ ok: false, code: 'STOCK_UNAVAILABLE' });

    const summary = await maintenance.run();
    expect(summary.rebuilt).toContain(id);
    expect(await admin.live(id)).toEqual({ ok: true, value: { issue: { total: 10, remain: 5 }, use: { total: 10, remain: 8 } } });
    expect(await takes.issue(input(id, 'a'))).toMatchObject({ ok: false, code: 'USER_LIMIT_REACHED' });
    expect(await takes.use(input(id, 'a'))).toMatchObject({ ok: false, code: 'NOT_ISSUED' });
    expect((await takes.use(input(id, 'd'))).ok).toBe(true);
    expect((await takes.issue(input(id, 'c'))).ok).toBe(true);

    const rush = await Promise.all(Array.from({ length: 50 }, (_, i) => takes.issue(input(id, `rush-${i}`))));
    expect(rush.filter((r) => r.ok)).toHaveLength(4);
    await maintenance.run();
    const report = await maintenance.sync(id);
    expect(report.ok && report.value).toMatchObject({
      issue: { total: 10, remain: 0, ledger: 10, drift: 0 },
      use: { total: 10, remain: 7, ledger: 3, drift: 0 },
    });
  });

  it('rebuilds by the admin action too, leaving surviving gauges untouched', async () => {
    const id = await liveCoupon({ issueStock: { total: 5 }, perUserIssueLimit: 2 });
    await takes.issue(input(id, 'x'));
    await upstash().del(`cs:{c:${id}}:issue`);
    expect(await takes.issue(input(id, 'y'))).toMatchObject({ ok: false, code: 'STOCK_UNAVAILABLE' });
    const rebuilt = await admin.rebuildById(id);
    expect(rebuilt).toMatchObject({ ok: true, value: { rebuilt: true } });
    expect(await admin.live(id)).toEqual({ ok: true, value: { issue: { total: 5, remain: 4 }, use: null } });
    expect(await takes.issue(input(id, 'x'))).toMatchObject({ ok: true, value: { remain: 3 } });
    expect(await takes.issue(input(id, 'x'))).toMatchObject({ ok: false, code: 'USER_LIMIT_REACHED' });
  });

  it('archives once under two schedules and a manual sync at once, leaving no key and no double count', async () => {
    const end = new Date(clock + 60_000);
    const id = await liveCoupon({ issueStock: { total: 20 }, issueWindow: { start: null, end }, useWindow: { start: null, end } });
    const sold = await Promise.all(Array.from({ length: 12 }, (_, i) => takes.issue(input(id, `s-${i}`))));
    expect(sold.every((r) => r.ok)).toBe(true);
    clock = end.getTime() + 1;
    try {
      const [first, second, manual] = await Promise.all([maintenance.run(), maintenance.run(), maintenance.sync(id)]);
      expect(first.archived.filter((c) => c === id).length + second.archived.filter((c) => c === id).length).toBe(1);
      expect(manual.ok).toBe(true);
    } finally {
      clock = Date.now();
    }
    expect(await deps.ledger.net(id)).toEqual({ issue: 12 });
    const coupon = await admin.get(id);
    expect(coupon.ok && coupon.value).toMatchObject({ status: 'archived', stocks: { issue: { total: 20, remain: 8 } } });
    expect(await keysOf(id)).toEqual([]);
    expect(await admin.live(id)).toEqual({ ok: true, value: { issue: { total: 20, remain: 8 }, use: null } });
  });

  it('keeps the loss window small: events wait in Redis at most one drain interval', async () => {
    const id = await liveCoupon({ issueStock: { total: 100_000 } });
    const throttle = new DrainThrottle();
    const pending: Promise<unknown>[] = [];
    deps.onTaken = (couponId) => {
      if (throttle.due(couponId, Date.now())) pending.push(drainCoupons(deps, [couponId]));
    };
    const stream = `cs:{c:${id}}:ledger`;
    let maxWaiting = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxWaiting = Math.max(maxWaiting, await upstash().xlen(stream));
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    try {
      const started = Date.now();
      let taken = 0;
      await Promise.all(
        Array.from({ length: 20 }, async (_, worker) => {
          for (let i = 0; Date.now() - started < 3_000; i++) if ((await takes.issue(input(id, `w${worker}-${i}`))).ok) taken += 1;
        }),
      );
      sampling = false;
      await sampler;
      await Promise.all(pending);
      const rate = taken / ((Date.now() - started) / 1000);
      console.log(`loss window: at most ${maxWaiting} undrained events seen while taking ${rate.toFixed(0)} takes/s`);
      // What waits is bounded by one drain interval of takes, not by the length of the sale.
      expect(maxWaiting).toBeLessThan(taken);
      await drainCoupons(deps, [id]);
      expect(await upstash().xlen(stream)).toBe(0);
      expect(await deps.ledger.net(id)).toEqual({ issue: taken });
    } finally {
      delete deps.onTaken;
    }
  });

  it('drains each event once, in order, even with drains racing', async () => {
    const id = await liveCoupon({ issueStock: { total: 50 } });
    const done = await Promise.all(Array.from({ length: 20 }, (_, i) => takes.issue(input(id, `r-${i}`))));
    const first = done[0];
    if (first?.ok) await takes.cancelIssue(id, first.value.id);
    const prefix = `cs:{c:${id}}:`;
    const seen: string[] = [];
    const write = async (events: LedgerEvent[]) => {
      seen.push(...events.map((e) => `${e.opId}:${e.action}`));
      await deps.ledger.append(events);
    };
    await Promise.all([deps.gauges.drain(prefix, write), deps.gauges.drain(prefix, write), deps.gauges.drain(prefix, write)]);
    expect(await deps.ledger.net(id)).toEqual({ issue: 19 });
    if (first?.ok) expect(seen.indexOf(`${first.value.id}:take`)).toBeLessThan(seen.indexOf(`${first.value.id}:restore`));
  });
});
