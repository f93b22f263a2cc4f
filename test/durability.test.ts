/**
 * Nothing lost: the Redis path (a redis-server of this file's own behind the local Upstash REST
 * endpoint, so FLUSHALL wipes nothing another file uses) with Postgres behind a TCP link the test
 * can cut. Covers a Postgres outage during a sale, recovery after Redis loses everything,
 * overlapping schedules, archival leaving no key behind, and the loss window. The ledger is
 * checked row by row against the operations the services acknowledged, not by its net alone.
 */
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstashRest, type UpstashRest } from '../scripts/upstash-rest/server.js';
import { PostgresCouponRepository } from '../src/adapters/postgres/coupon-repository.js';
import { PostgresLedgerRepository } from '../src/adapters/postgres/ledger-repository.js';
import * as schema from '../src/adapters/postgres/schema.js';
import { RedisGauge, redisClient } from '../src/adapters/redis/redis-gauge.js';
import { CouponAdmin } from '../src/coupon/admin.js';
import { CouponLive } from '../src/coupon/live.js';
import { CouponRecovery } from '../src/coupon/recovery.js';
import { unlimitedSpec, type CouponSpec } from '../src/coupon/coupon.js';
import type { CouponDeps } from '../src/coupon/deps.js';
import { DRAIN_INTERVAL_MS, DrainScheduler, drainCoupons } from '../src/coupon/drain.js';
import { Maintenance } from '../src/coupon/maintenance.js';
import type { TakeInput } from '../src/coupon/take-types.js';
import { CouponTakes } from '../src/coupon/takes.js';
import type { LedgerEvent } from '../src/stock/gauge.js';
import { postgresDb, type TestDb } from './support/db.js';
import { startPrivateRedis, type PrivateRedis } from './support/redis-server.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

const TOKEN = 'durability-token';
let redis: PrivateRedis;
let rest: UpstashRest;
let database: TestDb;
let link: TcpProxy;
let pool: pg.Pool;
let clock = Date.now();
let deps: CouponDeps;
let admin: CouponAdmin;
let live: CouponLive;
let recovery: CouponRecovery;
let takes: CouponTakes;
let maintenance: Maintenance;
let db: ReturnType<typeof drizzle<typeof schema>>;

beforeAll(async () => {
  redis = await startPrivateRedis();
  rest = await startUpstashRest({ redisUrl: redis.url, token: TOKEN });
  database = await postgresDb();
  const url = new URL(database.url ?? '');
  link = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
  url.port = String(link.port);
  pool = new pg.Pool({ connectionString: url.toString(), max: 5, connectionTimeoutMillis: 2_000 });
  pool.on('error', () => {}); // idle clients die when the link is cut; the next query reconnects
  db = drizzle({ client: pool, schema });
  deps = {
    coupons: new PostgresCouponRepository({ db }),
    ledger: new PostgresLedgerRepository({ db }),
    gauges: new RedisGauge({ redis: redisClient({ url: rest.url, token: TOKEN, retries: 0 }) }),
    clock: () => clock,
  };
  admin = new CouponAdmin(deps);
  live = new CouponLive(deps);
  recovery = new CouponRecovery(deps);
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

/** The coupon's ledger rows as `opId:action`, sorted; each (op, action) may appear once at most. */
async function ledgerOf(couponId: string): Promise<string[]> {
  const rows = await db.select({ opId: schema.ledger.opId, action: schema.ledger.action }).from(schema.ledger).where(eq(schema.ledger.scope, couponId));
  return rows.map((r) => `${r.opId}:${r.action}`).sort();
}

/** What the acknowledged operations must have left in the ledger: one row each. */
const expectedRows = (taken: string[], restored: string[] = []) => [...taken.map((id) => `${id}:take`), ...restored.map((id) => `${id}:restore`)].sort();

/** The operation id of a take that must have succeeded. */
function idOf(result: Awaited<ReturnType<CouponTakes['issue']>>): string {
  if (!result.ok) throw new Error(`take refused: ${result.code}`);
  return result.value.id;
}

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
    const taken: string[] = [];
    for (let i = 0; i < 30; i++) taken.push(idOf(await takes.issue(input(id, `before-${i}`))));
    await link.cut();
    const during = (await Promise.all(Array.from({ length: 40 }, (_, i) => takes.issue(input(id, `during-${i}`))))).map(idOf);
    taken.push(...during);
    const cancelled = during.slice(0, 5);
    for (const op of cancelled) expect((await takes.cancelIssue(id, op)).ok).toBe(true);
    await expect(maintenance.run()).rejects.toThrow();
    expect(await upstash().xlen(`cs:{c:${id}}:ledger`)).toBe(75);
    await link.restore();
    const summary = await maintenance.run();
    expect(summary.failed).toEqual([]);
    expect(summary.drifted).toEqual([]);
    expect(await upstash().xlen(`cs:{c:${id}}:ledger`)).toBe(0);
    const report = await maintenance.sync(id);
    expect(report.ok && report.value.issue).toMatchObject({ total: 100, remain: 35, ledger: 65, drift: 0 });
    // Row by row: every acknowledged take and cancel once, nothing else.
    expect(await ledgerOf(id)).toEqual(expectedRows(taken, cancelled));
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
    await upstash().flushall(); // this file's own redis-server

    expect(await takes.issue(input(id, 'g'))).toMatchObject({ ok: false, code: 'STOCK_UNAVAILABLE' });
    expect(await takes.use(input(id, 'd'))).toMatchObject({ ok: false, code: 'STOCK_UNAVAILABLE' });
    expect(await live.read(id)).toMatchObject({ ok: false, code: 'STOCK_UNAVAILABLE' });

    const summary = await maintenance.run();
    expect(summary.rebuilt).toContain(id);
    expect(await live.read(id)).toEqual({ ok: true, value: { issue: { total: 10, remain: 5 }, use: { total: 10, remain: 8 } } });
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
    const rebuilt = await recovery.rebuildById(id);
    expect(rebuilt).toMatchObject({ ok: true, value: { rebuilt: true } });
    expect(await live.read(id)).toEqual({ ok: true, value: { issue: { total: 5, remain: 4 }, use: null } });
    expect(await takes.issue(input(id, 'x'))).toMatchObject({ ok: true, value: { remain: 3 } });
    expect(await takes.issue(input(id, 'x'))).toMatchObject({ ok: false, code: 'USER_LIMIT_REACHED' });
  });

  it('archives once under two schedules and a manual sync at once, leaving no key but its seal and no double count', async () => {
    const end = new Date(clock + 60_000);
    const id = await liveCoupon({ issueStock: { total: 20 }, issueWindow: { start: null, end }, useWindow: { start: null, end } });
    const sold = (await Promise.all(Array.from({ length: 12 }, (_, i) => takes.issue(input(id, `s-${i}`))))).map(idOf);
    clock = end.getTime() + 1;
    try {
      const [first, second, manual] = await Promise.all([maintenance.run(), maintenance.run(), maintenance.sync(id)]);
      expect(first.archived.filter((c) => c === id).length + second.archived.filter((c) => c === id).length).toBe(1);
      expect(manual.ok).toBe(true);
    } finally {
      clock = Date.now();
    }
    expect(await deps.ledger.net(id)).toEqual({ issue: 12 });
    expect(await ledgerOf(id)).toEqual(expectedRows(sold));
    const coupon = await admin.get(id);
    expect(coupon.ok && coupon.value).toMatchObject({ status: 'archived', stocks: { issue: { total: 20, remain: 8 } } });
    // Nothing but the sealed policy, a tombstone that expires, so a rebuild racing the archive
    // cannot bring the coupon back, and the takes' idempotency records until their own time is up
    // (a retry whose answer was lost before the archive replays): every key left expires.
    const policy = `cs:{c:${id}}:policy`;
    const left = await keysOf(id);
    expect(left.filter((k) => k !== policy).every((k) => k.startsWith(`cs:{c:${id}}:i:`))).toBe(true);
    expect(left).toContain(policy);
    for (const key of left) expect(await upstash().ttl(key)).toBeGreaterThan(0);
    expect(await upstash().hget(policy, 'sealed')).toBe('1');
    expect(await upstash().ttl(policy)).toBeGreaterThan(0);
    expect(await live.read(id)).toEqual({ ok: true, value: { issue: { total: 20, remain: 8 }, use: null } });
  });

  it('keeps the loss window small: while takes flow, at most about one drain interval of takes waits in Redis', async () => {
    const id = await liveCoupon({ issueStock: { total: 100_000 } });
    const pending: Promise<unknown>[] = [];
    const drainMs: number[] = [];
    let drainsStarted = 0;
    // As the Node host: a drain soon after takes, at most one per interval, and one after the last.
    const scheduler = new DrainScheduler((couponId) => {
      drainsStarted += 1;
      const started = Date.now();
      const drain = drainCoupons(deps, [couponId]).then(() => drainMs.push(Date.now() - started));
      pending.push(drain);
      return drain;
    });
    deps.onLedgerEvent = (couponId) => scheduler.taken(couponId);
    const stream = `cs:{c:${id}}:ledger`;
    let maxWaiting = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxWaiting = Math.max(maxWaiting, await upstash().xlen(stream));
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    // The sale lasts 3 s, or longer when drains are slow (a busy machine): at least 5 × (interval +
    // slowest drain), so the bound below stays well under the sale and a stream that grows with
    // the sale cannot pass it.
    const saleMs = () => Math.min(15_000, Math.max(3_000, 5 * (DRAIN_INTERVAL_MS + Math.max(0, ...drainMs))));
    try {
      const started = Date.now();
      const taken: string[] = [];
      await Promise.all(
        Array.from({ length: 20 }, async (_, worker) => {
          for (let i = 0; Date.now() - started < saleMs(); i++) taken.push(idOf(await takes.issue(input(id, `w${worker}-${i}`))));
        }),
      );
      sampling = false;
      await sampler;
      await Promise.all(pending);
      const seconds = (Date.now() - started) / 1000;
      const rate = taken.length / seconds;
      const slowest = Math.max(0, ...drainMs);
      // An event waits from its take until the drain that moves it deletes it. Drains start at
      // most one interval apart while takes arrive, and each reads what is there when it starts,
      // so an event appended just after a drain read waits for the next start (≤ one interval)
      // plus that drain's own time, and may find the previous one still running: under
      // interval + 2 × drain time. Bound it by 2 × (interval + the slowest drain seen) of takes
      // at the rate measured. A drain that does not run after takes, runs late or moves too
      // little lets the stream grow with the sale and exceeds this.
      const bound = Math.ceil((rate * 2 * (DRAIN_INTERVAL_MS + slowest)) / 1000);
      console.log(
        `loss window: at most ${maxWaiting} undrained events seen while taking ${rate.toFixed(0)} takes/s ` +
          `(${((maxWaiting / rate) * 1000).toFixed(0)} ms of takes; bound ${bound}, ${drainsStarted} drains, slowest ${slowest} ms)`,
      );
      // Drains start on takes, one interval apart whatever their own length: half as many as
      // that is the least a working throttle gives while takes arrive without a pause.
      expect(drainsStarted, 'drains started during the sale').toBeGreaterThanOrEqual(Math.floor((seconds * 1000) / DRAIN_INTERVAL_MS / 2));
      expect(bound, 'the bound is shorter than the sale, so a stream that grows with the sale breaks it').toBeLessThan(taken.length / 2);
      expect(maxWaiting).toBeLessThanOrEqual(bound);
      // The tail: the takes after the last drain started are drained one interval later by the
      // drain the scheduler keeps pending, not left for the schedule.
      const tail = await upstash().xlen(stream);
      expect(tail).toBeLessThanOrEqual(bound);
      const ended = Date.now();
      while ((await upstash().xlen(stream)) > 0 || scheduler.waiting > 0) {
        expect(Date.now() - ended, 'the tail is drained without the schedule').toBeLessThan(10 * (DRAIN_INTERVAL_MS + slowest) + 2_000);
        await new Promise((r) => setTimeout(r, 20));
      }
      await Promise.all(pending);
      console.log(`loss window: the sale's tail of ${tail} events drained ${Date.now() - ended} ms after the last take, without the schedule`);
      expect(await deps.ledger.net(id)).toEqual({ issue: taken.length });
      expect(await ledgerOf(id)).toEqual(expectedRows(taken));
    } finally {
      delete deps.onLedgerEvent;
    }
  });

  it('drains each event once, in order, even with drains racing', async () => {
    const id = await liveCoupon({ issueStock: { total: 50 } });
    const taken = (await Promise.all(Array.from({ length: 20 }, (_, i) => takes.issue(input(id, `r-${i}`))))).map(idOf);
    const first = taken[0] ?? '';
    expect((await takes.cancelIssue(id, first)).ok).toBe(true);
    const prefix = `cs:{c:${id}}:`;
    // Each racing drain's writes, in the order it handed them to Postgres.
    const seen: string[][] = [[], [], []];
    const writer = (n: number) => async (events: LedgerEvent[]) => {
      seen[n]?.push(...events.map((e) => `${e.opId}:${e.action}`));
      await deps.ledger.append(events);
    };
    await Promise.all([deps.gauges.drain(prefix, writer(0)), deps.gauges.drain(prefix, writer(1)), deps.gauges.drain(prefix, writer(2))]);
    expect(await deps.ledger.net(id)).toEqual({ issue: 19 });
    // Once: every acknowledged operation is one row, whatever the racing drains handed over twice.
    expect(await ledgerOf(id)).toEqual(expectedRows(taken, [first]));
    expect(new Set(seen.flat())).toEqual(new Set(expectedRows(taken, [first])));
    // In order: each drain hands events over in the order the scripts appended them, so a
    // cancel never reaches Postgres before its take.
    for (const writes of seen.filter((w) => w.includes(`${first}:restore`))) {
      expect(writes.indexOf(`${first}:take`)).toBeGreaterThanOrEqual(0);
      expect(writes.indexOf(`${first}:take`)).toBeLessThan(writes.indexOf(`${first}:restore`));
    }
    expect(seen.some((w) => w.includes(`${first}:restore`))).toBe(true);
    expect(await upstash().xlen(`${prefix}ledger`)).toBe(0);
  });
});
