/**
 * Faults on the Redis path, through the HTTP app: an unknown outcome (the REST endpoint fails
 * or hangs after Redis ran the script) retried with the same Idempotency-Key takes exactly once,
 * and a redis-server killed with -9 mid-sale and restarted from its AOF keeps every
 * acknowledged take and never oversells.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstashRest, type UpstashRest } from '../scripts/upstash-rest/server.js';
import { PostgresCouponRepository } from '../src/adapters/postgres/coupon-repository.js';
import { PostgresLedgerRepository } from '../src/adapters/postgres/ledger-repository.js';
import { RedisGauge, redisClient } from '../src/adapters/redis/redis-gauge.js';
import type { CouponDeps } from '../src/coupon/deps.js';
import { createApp } from '../src/http/app.js';
import { postgresDb, type TestDb } from './support/db.js';
import { startPrivateRedis, type PrivateRedis } from './support/redis-server.js';

const TOKEN = 'faults-token';
const ADMIN = 'faults-admin-token-0123456789';
const CLIENT = 'faults-client-token-0123456789';

/** A redis-server of this file's own that writes every command to its AOF before answering. */
let redis: PrivateRedis;
let rest: UpstashRest;
let database: TestDb;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  redis = await startPrivateRedis({ aof: true });
  rest = await startUpstashRest({ redisUrl: redis.url, token: TOKEN });
  database = await postgresDb();
  const deps: CouponDeps = {
    coupons: new PostgresCouponRepository({ db: database.db }),
    ledger: new PostgresLedgerRepository({ db: database.db }),
    gauges: new RedisGauge({ redis: redisClient({ url: rest.url, token: TOKEN, retries: 0 }) }),
  };
  app = createApp({ tokens: { admin: ADMIN, client: CLIENT }, info: { runtime: 'node', db: 'postgres' }, deps: () => ({ deps }), log: () => {} });
}, 60_000);

afterAll(async () => {
  await rest?.close();
  await redis?.stop();
  await database?.close();
});

type Json = Record<string, unknown>;

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, token = CLIENT) {
  const res = await app.request(path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

async function liveCoupon(total: number): Promise<string> {
  const created = await call('POST', '/v1/coupons', { name: 'faults', issueStock: { total } }, {}, ADMIN);
  const id = String(created.body.id);
  expect((await call('POST', `/v1/coupons/${id}/confirm`, undefined, {}, ADMIN)).status).toBe(200);
  return id;
}

describe('faults on the Redis path', () => {
  for (const mode of ['500-after', 'timeout-after'] as const) {
    it(`takes exactly once when the answer is lost (${mode}) and the client retries`, async () => {
      const id = await liveCoupon(10);
      const issue = () => call('POST', `/v1/coupons/${id}/issues`, { userId: 'alice' }, { 'idempotency-key': `lost-${mode}` });
      await issue(); // warm: the script is loaded, so one request is one EVALSHA
      rest.faults.failNext(1, mode, 200);
      const first = await call('POST', `/v1/coupons/${id}/issues`, { userId: 'bob' }, { 'idempotency-key': `retry-${mode}` });
      // A lost answer is a 503 to retry — or, when fetch itself retried on the dropped
      // connection, already the replay of the take that ran. Either way it ran once.
      if (first.status !== 201) expect(first).toMatchObject({ status: 503, body: { code: 'STOCK_UNAVAILABLE' } });
      const retried = await call('POST', `/v1/coupons/${id}/issues`, { userId: 'bob' }, { 'idempotency-key': `retry-${mode}` });
      expect(retried).toMatchObject({ status: 201, body: { userId: 'bob', remain: 8 } });
      const again = await call('POST', `/v1/coupons/${id}/issues`, { userId: 'bob' }, { 'idempotency-key': `retry-${mode}` });
      expect(again.body).toEqual(retried.body);
      expect((await call('GET', `/v1/coupons/${id}/stocks/live`)).body).toEqual({ issue: { total: 10, remain: 8 }, use: null });
      const sync = await call('POST', `/v1/coupons/${id}/stocks/sync`, undefined, {}, ADMIN);
      expect(sync.body).toMatchObject({ issue: { remain: 8, ledger: 2, drift: 0 } });
    });
  }

  it('answers 503 without taking when the endpoint fails before running', async () => {
    const id = await liveCoupon(3);
    rest.faults.failNext(1, '500-before');
    expect((await call('POST', `/v1/coupons/${id}/issues`, { userId: 'c' }, { 'idempotency-key': 'before' })).status).toBe(503);
    expect((await call('GET', `/v1/coupons/${id}/stocks/live`)).body).toEqual({ issue: { total: 3, remain: 3 }, use: null });
    expect((await call('POST', `/v1/coupons/${id}/issues`, { userId: 'c' }, { 'idempotency-key': 'before' })).status).toBe(201);
  });

  it('keeps every acknowledged take when redis-server is killed mid-sale and restarts from its AOF', { timeout: 60_000 }, async () => {
    const total = 60;
    const id = await liveCoupon(total);
    const acknowledged = new Set<string>();
    let soldOut = 0;
    let unavailable = 0;
    // The kill lands mid-sale by condition, not by a delay: once a sixth of the stock is acknowledged.
    let midSale: () => void = () => {};
    const sixthSold = new Promise<void>((resolve) => (midSale = resolve));
    const buy = async (user: string) => {
      // A client that retries with its key until it gets a definite answer.
      for (let attempt = 0; attempt < 100; attempt++) {
        const r = await call('POST', `/v1/coupons/${id}/issues`, { userId: user }, { 'idempotency-key': `aof-${user}` });
        if (r.status === 201) {
          acknowledged.add(String(r.body.issueId));
          if (acknowledged.size >= total / 6) midSale();
          return;
        }
        if (r.body.code === 'SOLD_OUT') return void (soldOut += 1);
        unavailable += 1;
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error(`no definite answer for ${user}`);
    };
    // 150 buyers through 10 connections at a time, so the sale lasts many round trips.
    const queue = Array.from({ length: 150 }, (_, i) => `user-${i}`);
    const buyers = Array.from({ length: 10 }, async () => {
      for (let user = queue.shift(); user !== undefined; user = queue.shift()) await buy(user);
    });
    await sixthSold;
    const soldAtKill = acknowledged.size;
    await redis.kill();
    await redis.restart();
    await Promise.all(buyers);

    expect(soldAtKill).toBeLessThan(total); // the kill did land mid-sale
    expect(unavailable).toBeGreaterThan(0);
    expect(acknowledged.size).toBe(total);
    expect(soldOut).toBe(150 - total);
    expect((await call('GET', `/v1/coupons/${id}/stocks/live`)).body).toEqual({ issue: { total, remain: 0 }, use: null });
    const sync = await call('POST', `/v1/coupons/${id}/stocks/sync`, undefined, {}, ADMIN);
    expect(sync.body).toMatchObject({ issue: { remain: 0, ledger: total, drift: 0 } });
  });
});
