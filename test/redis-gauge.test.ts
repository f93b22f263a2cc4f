/**
 * The Redis gauge through @upstash/redis, unmodified, against a real redis-server behind the
 * local Upstash REST endpoint: the shared gauge contract, plus what only Redis has (scripts by
 * hash, NOSCRIPT fallback, one request per take, keys under one hash tag).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { coalescedRunner } from '../src/adapters/redis/coalesce.js';
import { RedisGauge, redisClient } from '../src/adapters/redis/redis-gauge.js';
import { TAKE } from '../src/adapters/redis/scripts.js';
import { couponPolicy, unlimitedSpec } from '../src/coupon/coupon.js';
import { issueItems, periodExpiry, useItems } from '../src/coupon/items.js';
import { currentPeriods } from '../src/coupon/deps.js';
import { couponKeys } from '../src/coupon/keys.js';
import { startUpstashRest } from '../scripts/upstash-rest/server.js';
import { gaugeContract } from './contract/gauge-contract.js';
import { opIdOf } from './contract/gauge-fixture.js';
import { takeRequests } from './support/take-requests.js';

const TOKEN = 'local-upstash-token';

type Rest = Awaited<ReturnType<typeof startUpstashRest>>;
let rest: Rest;

beforeAll(async () => {
  rest = await startUpstashRest({ redisUrl: inject('redisUrl'), token: TOKEN });
});
afterAll(async () => {
  await rest.close();
});

const client = () => redisClient({ url: rest.url, token: TOKEN, retries: 0 });

/** Loses keys as eviction or a failover that lost writes would: deleted behind the gauge's back. */
const forget = {
  gauge: async (key: string) => void (await client().del(key)),
  policy: async (prefix: string) => void (await client().del(`${prefix}policy`)),
};
gaugeContract('redis (upstash rest)', async () => ({ gauge: new RedisGauge({ redis: client() }), forget, close: async () => {} }));
// The Node host's configuration: scripts of one event-loop turn share one /pipeline request.
gaugeContract('redis (upstash rest, coalesced)', async () => {
  const redis = client();
  return { gauge: new RedisGauge({ redis, scripts: coalescedRunner({ redis }) }), forget, close: async () => {} };
});

async function scanAll(match: string): Promise<string[]> {
  const redis = client();
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, { match, count: 1000 });
    keys.push(...batch);
    cursor = String(next);
  } while (cursor !== '0');
  return keys;
}

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

describe('redis gauge specifics', () => {
  const spec = {
    name: 'r',
    issueStock: { total: 5 },
    useStock: { total: 5 },
    issuePeriodStock: null,
    usePeriodStock: null,
    budget: null,
    perUserIssueLimit: 2,
    perUserUseLimit: null,
    issueWindow: null,
    useWindow: null,
  };

  async function liveCoupon() {
    const id = `cpn_${Math.random().toString(36).slice(2, 12)}`;
    const keys = couponKeys(id);
    const gauge = new RedisGauge({ redis: client() });
    await gauge.load([
      { key: keys.issue, total: 5, remain: 5 },
      { key: keys.use, total: 5, remain: 5 },
    ]);
    await gauge.setPolicy(keys.prefix, couponPolicy({ ...spec, status: 'confirmed', statusVersion: 0 }));
    return { id, keys, gauge };
  }

  const take = (gauge: RedisGauge, id: string, user: string, key: string, kind: 'issue' | 'use' = 'issue') => {
    const keys = couponKeys(id);
    return gauge.take({
      prefix: keys.prefix,
      window: kind,
      opId: `${kind === 'issue' ? 'iss' : 'use'}_${Math.random().toString(36).slice(2)}`,
      idempotencyKey: key,
      fingerprint: 'f',
      items: kind === 'issue' ? issueItems(keys, user, currentPeriods({}, Date.now())) : useItems(keys, user, currentPeriods({}, Date.now())),
      ledger: { scope: id, kind, subject: user, ref: null, amount: 1 },
      now: Date.now(),
    });
  };

  it('costs exactly one HTTP request and one Redis command per take', async () => {
    const { id, gauge } = await liveCoupon();
    await take(gauge, id, 'warm', 'warm'); // the script is known to Redis from here on
    rest.resetStats();
    expect((await take(gauge, id, 'u1', 'k1')).ok).toBe(true);
    expect(rest.stats.requests).toBe(1);
    expect(rest.stats.commands).toBe(1);
  });

  it('runs scripts by their SHA-1 and falls back to EVAL after SCRIPT FLUSH', async () => {
    const { id, gauge } = await liveCoupon();
    const redis = client();
    await take(gauge, id, 'u0', 'k0');
    expect(await redis.scriptExists(sha1(TAKE))).toEqual([1]);
    await redis.scriptFlush();
    expect(await redis.scriptExists(sha1(TAKE))).toEqual([0]);
    const result = await take(gauge, id, 'u1', 'k1');
    expect(result).toMatchObject({ ok: true, remains: [3, 1, 1, null, null] });
    expect(await redis.scriptExists(sha1(TAKE))).toEqual([1]);
  });

  it('fails closed when a gauge is evicted, and never re-creates it', async () => {
    const { id, keys, gauge } = await liveCoupon();
    await client().del(keys.issue);
    expect(await take(gauge, id, 'u1', 'k1')).toEqual({ ok: false, reason: 'unavailable' });
    expect(await gauge.read([keys.issue])).toEqual([null]);
    await client().del(keys.prefix + 'policy');
    expect(await take(gauge, id, 'u2', 'k2', 'use')).toEqual({ ok: false, reason: 'unavailable' });
  });

  it('keeps every key of a coupon under its hash tag, and drop leaves none', async () => {
    const { id, keys, gauge } = await liveCoupon();
    const issued = await take(gauge, id, 'user:{weird}*', 'k1');
    expect(issued.ok).toBe(true);
    expect((await take(gauge, id, 'user:{weird}*', 'k2', 'use')).ok).toBe(true);
    const found = await scanAll(`cs:{c:${id}}:*`);
    // issue + use gauges, policy, ledger, the user's issue counter and held count (no per-user
    // use limit: no counter), the markers of those lazy counters, 2 idempotency records, 2 operations
    expect(found.length).toBe(11);
    for (const key of found) expect(key.startsWith(keys.prefix)).toBe(true);
    await gauge.drop(keys.prefix);
    expect(await scanAll(`cs:{c:${id}}:*`)).toEqual([]);
    // A sealed (archived) scope's policy stays as a tombstone for a while, so a racing rebuild cannot revive it.
    const sealed = await liveCoupon();
    expect((await gauge.seal(sealed.keys.prefix, Date.now())).found).toBe(true);
    await sealed.gauge.drop(sealed.keys.prefix);
    expect(await scanAll(`cs:{c:${sealed.id}}:*`)).toEqual([`${sealed.keys.prefix}policy`]);
    expect(await client().ttl(`${sealed.keys.prefix}policy`)).toBeGreaterThan(0);
    await sealed.gauge.load([{ key: sealed.keys.issue, total: 1, remain: 1 }]);
    expect(await sealed.gauge.setPolicy(sealed.keys.prefix, couponPolicy({ ...unlimitedSpec('x'), status: 'confirmed', statusVersion: 9 }))).toBe(false);
    expect(await scanAll(`cs:{c:${sealed.id}}:*`)).toEqual([`${sealed.keys.prefix}policy`]);
  });

  it('appends one ledger event per take and restore in the same script, drained once', async () => {
    const { id, keys, gauge } = await liveCoupon();
    const a = await take(gauge, id, 'u1', 'k1');
    await take(gauge, id, 'u1', 'k1'); // replay: no second event
    if (!a.ok) throw new Error('take failed');
    await gauge.restore({ prefix: keys.prefix, opId: a.opId, kind: 'issue', now: Date.now() });
    await gauge.restore({ prefix: keys.prefix, opId: a.opId, kind: 'issue', now: Date.now() });
    const written: { opId: string; action: string; scope: string; subject: string }[] = [];
    const moved = await gauge.drain(keys.prefix, async (events) => {
      written.push(...events);
    });
    expect(moved).toBe(2);
    expect(written.map((e) => [e.opId, e.action, e.scope, e.subject])).toEqual([
      [a.opId, 'take', id, 'u1'],
      [a.opId, 'restore', id, 'u1'],
    ]);
    expect(await gauge.drain(keys.prefix, async () => {})).toBe(0);
  });

  it('records the value a take gave up in its ledger events, take and restore', async () => {
    const { id, keys, gauge } = await liveCoupon();
    const taken = await gauge.take({
      prefix: keys.prefix,
      window: 'issue',
      opId: `iss_${Math.random().toString(36).slice(2)}`,
      idempotencyKey: 'v1',
      fingerprint: 'f',
      items: issueItems(keys, 'u', currentPeriods({}, Date.now())),
      ledger: { scope: id, kind: 'issue', subject: 'u', ref: null, amount: 1, value: 250 },
      now: Date.now(),
    });
    await take(gauge, id, 'w', 'v2'); // no value
    await gauge.restore({ prefix: keys.prefix, opId: opIdOf(taken), kind: 'issue', now: Date.now() });
    const events: { action: string; subject: string; value?: number | null }[] = [];
    await gauge.drain(keys.prefix, async (batch) => void events.push(...batch));
    expect(events.map((e) => [e.action, e.subject, e.value])).toEqual([
      ['take', 'u', 250],
      ['take', 'w', null],
      ['restore', 'u', 250],
    ]);
  });

  it('keeps events when the writer fails, so nothing is lost', async () => {
    const { id, keys, gauge } = await liveCoupon();
    await take(gauge, id, 'u1', 'k1');
    await expect(gauge.drain(keys.prefix, async () => Promise.reject(new Error('postgres down')))).rejects.toThrow('postgres down');
    let seen = 0;
    expect(await gauge.drain(keys.prefix, async (events) => void (seen += events.length))).toBe(1);
    expect(seen).toBe(1);
  });

  it('lets a period gauge expire a period after its own, and a restore after that skips it', async () => {
    const id = `cpn_${Math.random().toString(36).slice(2, 12)}`;
    const keys = couponKeys(id);
    const gauge = new RedisGauge({ redis: client() });
    const capped = unlimitedSpec('p', { issueStock: { total: 5 }, issuePeriodStock: { total: 2, period: 'day' } });
    await gauge.load([{ key: keys.issue, total: 5, remain: 5 }]);
    await gauge.setPolicy(keys.prefix, couponPolicy({ ...capped, status: 'confirmed', statusVersion: 0 }));
    const now = Date.now();
    const periods = currentPeriods({}, now);
    const dayKey = keys.period('issue', 'day', periods.day.label);
    const taken = await gauge.take({
      prefix: keys.prefix,
      window: 'issue',
      opId: `iss_${Math.random().toString(36).slice(2)}`,
      idempotencyKey: 'p1',
      fingerprint: 'f',
      items: issueItems(keys, 'u', periods),
      ledger: { scope: id, kind: 'issue', subject: 'u', ref: null, amount: 1 },
      now,
    });
    expect(taken).toMatchObject({ ok: true, remains: [4, null, 1, 1, null] });
    const ttl = await client().pttl(dayKey);
    expect(Math.abs(Date.now() + ttl - periodExpiry(periods.day))).toBeLessThan(2_000);
    // The week is not capped: no gauge for it.
    expect(await client().exists(keys.period('issue', 'week', periods.week.label))).toBe(0);
    // Gone before its time (evicted, lost in a failover): a cancel fails closed rather than skip it.
    await client().del(dayKey);
    expect(await gauge.restore({ prefix: keys.prefix, opId: opIdOf(taken), kind: 'issue', now: Date.now() })).toEqual({ ok: false, reason: 'unavailable' });
    // Gone once its time is up: a cancel afterwards still gives the stock and the held coupon back.
    const after = periodExpiry(periods.day) + 1;
    const restored = await gauge.restore({ prefix: keys.prefix, opId: opIdOf(taken), kind: 'issue', now: after });
    expect(restored).toMatchObject({ ok: true, restored: true, remains: [5, null, 0, null, null] });
    expect(await client().exists(dayKey)).toBe(0);
  });

  it('gives back at most 1,000 expired holds in one take; a take refused with more still due is unsettled, never a sell-out', async () => {
    const gauge = new RedisGauge({ redis: client() });
    const prefix = `cs:{c:cap${Math.random().toString(36).slice(2, 10)}}:`;
    const stock = `${prefix}stock`;
    await gauge.load([{ key: stock, total: 1_005, remain: 1_005 }]);
    await gauge.setPolicy(prefix, { open: true, version: 0, windows: {}, limits: { stock: 0 } });
    const T = Date.parse('2030-01-01T00:00:00Z');
    const take = (n: number, now: number, hold?: number) =>
      gauge.take({
        prefix,
        window: 'sell',
        opId: `op_${Math.random().toString(36).slice(2)}`,
        idempotencyKey: `k-${Math.random().toString(36).slice(2)}`,
        fingerprint: 'f',
        items: [{ key: stock, n, limit: 'stock', lazy: false }],
        ledger: { scope: prefix, kind: 'sell', subject: 'u', ref: null, amount: n },
        now,
        ...(hold === undefined ? {} : { hold: { expiresAt: hold } }),
      });
    await Promise.all(Array.from({ length: 1_005 }, () => take(1, T, T + 1_000)));
    expect((await gauge.read([stock]))[0]?.remain).toBe(0);
    // 1,000 come back in this take; 5 are still due, so refusing 1,001 could be a false sell-out.
    expect(await take(1_001, T + 2_000)).toEqual({ ok: false, reason: 'unsettled' });
    expect((await gauge.read([stock]))[0]?.remain).toBe(1_000);
    expect(await take(1_001, T + 2_000)).toMatchObject({ ok: true, remains: [4] });
  });

  it('round-trips user ids that look like numbers or JSON', async () => {
    const { id, keys, gauge } = await liveCoupon();
    for (const user of ['1.50', '1e3', 'null', '{"a":1}']) {
      const taken = await take(gauge, id, user, `k-${user}`);
      if (!taken.ok) throw new Error(`take failed for ${user}`);
      const restored = await gauge.restore({ prefix: keys.prefix, opId: taken.opId, kind: 'issue', now: Date.now() });
      expect(restored.ok && restored.op.subject).toBe(user);
    }
  });
});

describe('coalesced scripts (the Node host)', () => {
  async function hotCoupon(total: number, maxBatch?: number) {
    const id = `cpn_${Math.random().toString(36).slice(2, 12)}`;
    const keys = couponKeys(id);
    const redis = client();
    const runner = coalescedRunner({ redis, ...(maxBatch ? { maxBatch } : {}) });
    const gauge = new RedisGauge({ redis, scripts: runner });
    await gauge.load([{ key: keys.issue, total, remain: total }]);
    await gauge.setPolicy(keys.prefix, couponPolicy({ ...{ ...unlimited, issueStock: { total } }, status: 'confirmed', statusVersion: 0 }));
    const take = (user: string) =>
      gauge.take({
        prefix: keys.prefix,
        window: 'issue',
        opId: `iss_${Math.random().toString(36).slice(2)}`,
        idempotencyKey: `k-${user}`,
        fingerprint: 'f',
        items: issueItems(keys, user, currentPeriods({}, Date.now())),
        ledger: { scope: id, kind: 'issue', subject: user, ref: null, amount: 1 },
        now: Date.now(),
      });
    return { keys, gauge, take, coalescer: runner.coalescer };
  }
  const unlimited = unlimitedSpec('c');
  const users = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}-${i}`);

  it('sends the takes of one turn in one request, one EVALSHA each, and still sells exactly the stock', async () => {
    const { keys, gauge, take } = await hotCoupon(30);
    await take('warm');
    rest.resetStats();
    const results = await Promise.all(users(50, 'u').map(take));
    expect(rest.stats.requests).toBe(1);
    expect(rest.stats.commands).toBe(50);
    expect(takeRequests(rest.stats)).toEqual([Array.from({ length: 50 }, () => expect.stringMatching(/^EVALSHA /))]);
    expect(results.filter((r) => r.ok)).toHaveLength(29);
    expect(results.filter((r) => !r.ok)).toEqual(Array.from({ length: 21 }, () => ({ ok: false, reason: 'insufficient', index: 0 })));
    expect(await gauge.read([keys.issue])).toMatchObject([{ total: 30, remain: 0 }]);
  });

  it('splits a turn past maxBatch into several requests', async () => {
    const { take } = await hotCoupon(1_000, 40);
    await take('warm');
    rest.resetStats();
    const results = await Promise.all(users(100, 'b').map(take));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(rest.stats.requests).toBe(3);
    expect(rest.stats.commands).toBe(100);
  });

  it('falls back to EVAL for the whole batch after SCRIPT FLUSH, once', async () => {
    const { keys, gauge, take } = await hotCoupon(10);
    await take('warm');
    await client().scriptFlush();
    rest.resetStats();
    const results = await Promise.all(users(5, 'f').map(take));
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true]);
    expect(rest.stats.log).toEqual([Array.from({ length: 5 }, () => expect.stringMatching(/^EVALSHA /)), Array.from({ length: 5 }, () => 'EVAL <script>')]);
    expect(await gauge.read([keys.issue])).toMatchObject([{ total: 10, remain: 4 }]);
  });

  it('fails every call of a request that failed, taking nothing when it did not run', async () => {
    const { keys, gauge, take } = await hotCoupon(10);
    await take('warm');
    rest.faults.failNext(1, '500-before');
    const results = await Promise.allSettled(users(4, 'x').map(take));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    expect(await gauge.read([keys.issue])).toMatchObject([{ total: 10, remain: 9 }]);
    // The next turn is a new request and goes through.
    expect((await take('after')).ok).toBe(true);
  });

  it('keeps one failing script from failing the others in its request', async () => {
    const { keys, gauge, take } = await hotCoupon(10);
    await client().set(`${keys.prefix}uh:bad`, 'not a hash'); // WRONGTYPE inside the script
    const [good, bad, other] = await Promise.allSettled([take('g1'), take('bad'), take('g2')]);
    expect(good.status === 'fulfilled' && good.value.ok).toBe(true);
    expect(bad.status).toBe('rejected');
    expect(other.status === 'fulfilled' && other.value.ok).toBe(true);
    expect(await gauge.read([keys.issue])).toMatchObject([{ total: 10, remain: 8 }]);
  });
});

describe('coalesced scripts when the answer of a pipeline is lost (the Node host)', () => {
  /** A coupon on a coalescing gauge whose client has `retries` (the host's default is 1). */
  async function coupon(total: number, retries: number) {
    const id = `cpn_${Math.random().toString(36).slice(2, 12)}`;
    const keys = couponKeys(id);
    const redis = redisClient({ url: rest.url, token: TOKEN, retries });
    const runner = coalescedRunner({ redis });
    const gauge = new RedisGauge({ redis, scripts: runner });
    await gauge.load([{ key: keys.issue, total, remain: total }]);
    await gauge.setPolicy(keys.prefix, couponPolicy({ ...unlimitedSpec('lost'), issueStock: { total }, status: 'confirmed', statusVersion: 0 }));
    /** A take with its own op id, as every request makes one; the key is the client's Idempotency-Key. */
    const take = (user: string) =>
      gauge.take({
        prefix: keys.prefix,
        window: 'issue',
        opId: `iss_${Math.random().toString(36).slice(2)}`,
        idempotencyKey: `lost-${user}`,
        fingerprint: 'f',
        items: issueItems(keys, user, currentPeriods({}, Date.now())),
        ledger: { scope: id, kind: 'issue', subject: user, ref: null, amount: 1 },
        now: Date.now(),
      });
    const remain = async () => (await gauge.read([keys.issue]))[0]?.remain;
    const events = async () => {
      const drained: { opId: string; action: string; subject: string }[] = [];
      await gauge.drain(keys.prefix, async (batch) => void drained.push(...batch));
      return drained;
    };
    return { take, remain, events, coalescer: runner.coalescer };
  }
  const users = ['a', 'b', 'c', 'd'];

  for (const mode of ['500-after', 'timeout-after'] as const) {
    it(`fails every call of a pipeline Redis ran but whose answer was lost (${mode}); retries with the same keys take nothing twice`, async () => {
      const { take, remain, events, coalescer } = await coupon(10, 0);
      await take('warm'); // the script is known: the lost request is one EVALSHA per call
      await events();
      rest.faults.failNext(1, mode, 100);
      const before = coalescer.pipelines;
      const lost = await Promise.allSettled(users.map(take));
      expect(coalescer.pipelines - before).toBe(1); // one request carried all four
      if (mode === '500-after') {
        expect(lost.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
      } else {
        // Node's fetch may send the request again on the dropped connection by itself: then a
        // call answers the replay of the take that ran; every other call errs.
        for (const r of lost) if (r.status === 'fulfilled') expect(r.value).toMatchObject({ ok: true, replayed: true });
      }
      expect(await remain()).toBe(5); // they ran: the outcome was unknown to the callers, not undone
      // The clients retry with the same keys: each replays the take that ran, none takes again.
      const retried = await Promise.all(users.map(take));
      for (const r of retried) expect(r).toMatchObject({ ok: true, replayed: true });
      expect(await remain()).toBe(5);
      const drained = await events();
      expect(drained.map((e) => [e.subject, e.action]).sort()).toEqual(users.map((u) => [u, 'take']));
      expect(drained.map((e) => e.opId).sort()).toEqual(retried.map((r) => opIdOf(r)).sort());
      // And what is left is still there to take.
      expect((await take('e')).ok).toBe(true);
      expect(await remain()).toBe(4);
    });
  }

  it('with the client retrying a dropped connection (as the host does), every call answers the take that ran, once', async () => {
    const { take, remain, events } = await coupon(10, 1);
    await take('warm');
    await events();
    rest.faults.failNext(1, 'timeout-after', 100);
    const results = await Promise.allSettled(users.map(take));
    // The resent pipeline runs every script again: each replays, or (had the retry failed too) errs.
    for (const r of results) if (r.status === 'fulfilled') expect(r.value).toMatchObject({ ok: true });
    expect(await remain()).toBe(5);
    const retried = await Promise.all(users.map(take));
    for (const r of retried) expect(r).toMatchObject({ ok: true, replayed: true });
    expect(await remain()).toBe(5);
    expect((await events()).map((e) => e.subject).sort()).toEqual(users);
  });
});
