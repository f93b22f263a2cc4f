/**
 * The riskiest branches that had no test (issue 17): the take service's refusals when the store
 * cannot answer, maintenance when a coupon's gauges or policy are gone or one coupon fails, and
 * the Redis scripts' and the Postgres gauge's corner cases.
 */
import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { atomically } from '../src/adapters/postgres/gauge-sql.js';
import { gaugePolicies, gauges as gaugeRows } from '../src/adapters/postgres/schema.js';
import { CouponAdmin } from '../src/coupon/admin.js';
import { CouponRecovery } from '../src/coupon/recovery.js';
import { unlimitedSpec } from '../src/coupon/coupon.js';
import { couponKeys } from '../src/coupon/keys.js';
import { Maintenance } from '../src/coupon/maintenance.js';
import { CLIENT, describeEachGauge, testApp, type TestApp } from './support/app.js';
import { postgresDb } from './support/db.js';
import { createLive, expectJson, expectProblem, getCoupon, issue, issued, live, sync, used } from './support/fixtures.js';

/** Loses a coupon's gauge or policy in whichever store holds it. */
async function forgetGauge(t: TestApp, key: string): Promise<void> {
  if (t.redis) await t.redis.client.del(key);
  else if (t.resp) await t.resp.client.del(key);
  else await t.db.db.delete(gaugeRows).where(eq(gaugeRows.key, key));
}
async function forgetPolicy(t: TestApp, couponId: string): Promise<void> {
  const prefix = couponKeys(couponId).prefix;
  if (t.redis) await t.redis.client.del(`${prefix}policy`);
  else if (t.resp) await t.resp.client.del(`${prefix}policy`);
  else await t.db.db.delete(gaugePolicies).where(eq(gaugePolicies.prefix, prefix));
}

const hold = (t: TestApp, couponId: string, userId: string, ownerId: string) =>
  t.call('POST', `/v1/coupons/${couponId}/holds`, { token: CLIENT, body: { userId, ownerId, ttlSeconds: 600 } });

describeEachGauge('branches without a test before', (t) => {
  describe('takes', () => {
    it('refuses a whole batch 503 when the stock is unavailable, taking nothing', async () => {
      const coupon = await createLive(t, { issueStock: { total: 5 } });
      await forgetGauge(t, couponKeys(coupon.id).issue);
      const refused = await t.call('POST', `/v1/coupons/${coupon.id}/issues:batch`, { token: CLIENT, body: { userIds: ['a', 'b', 'c'] }, headers: { 'idempotency-key': 'k' } });
      // A 503 asks the client to wait a moment before it retries with the same key.
      expect(refused.headers.get('retry-after')).toBe('1');
      await expectProblem(refused, 503, 'STOCK_UNAVAILABLE');
      await new Maintenance(t.deps).run();
      expect((await live(t, coupon.id)).issue).toEqual({ total: 5, remain: 5 });
    });

    it('answers a commit 503 while the policy is gone and NOT_ACTIVE once archived', async () => {
      const coupon = await createLive(t, { useStock: { total: 3 } });
      const { holdId } = await expectJson<{ holdId: string }>(await hold(t, coupon.id, 'ann', 'o1'), 201);
      await forgetPolicy(t, coupon.id);
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/holds/${holdId}/commit`, { token: CLIENT }), 503, 'STOCK_UNAVAILABLE');
      await new CouponRecovery(t.deps).rebuildById(coupon.id);
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/holds/${holdId}/commit`, { token: CLIENT }), 409, 'NOT_ACTIVE');
    });
  });

  describe('maintenance', () => {
    it('archives a coupon whose gauge is gone: the final remain is total − ledger', async () => {
      const coupon = await createLive(t, { issueStock: { total: 10 }, useStock: { total: 10 } });
      await issued(t, coupon.id, 'a');
      await issued(t, coupon.id, 'b');
      await used(t, coupon.id, 'a');
      await t.settle();
      await forgetGauge(t, couponKeys(coupon.id).issue);
      await forgetGauge(t, couponKeys(coupon.id).use);
      const archived = await expectJson<{ issueStock: { remain: number }; useStock: { remain: number } }>(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
      expect(archived.issueStock.remain).toBe(8);
      expect(archived.useStock.remain).toBe(9);
    });

    it('archives a coupon whose policy is gone', async () => {
      const coupon = await createLive(t, { issueStock: { total: 4 } });
      await issued(t, coupon.id, 'a');
      await t.settle();
      await forgetPolicy(t, coupon.id);
      const archived = await expectJson<{ status: string; issueStock: { remain: number } }>(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
      expect(archived).toMatchObject({ status: 'archived', issueStock: { remain: 3 } });
    });

    it('rebuilds a coupon whose only loss is its policy: takes resume where they were', async () => {
      const coupon = await createLive(t, { issueStock: { total: 4 }, perUserIssueLimit: 1 });
      await issued(t, coupon.id, 'a');
      await forgetPolicy(t, coupon.id);
      await expectProblem(await issue(t, coupon.id, 'b'), 503, 'STOCK_UNAVAILABLE');
      const summary = await new Maintenance(t.deps).run();
      expect(summary.rebuilt).toContain(coupon.id);
      await expectProblem(await issue(t, coupon.id, 'a'), 409, 'USER_LIMIT_REACHED');
      expect((await issued(t, coupon.id, 'b')).remain).toBe(2);
      expect((await sync(t, coupon.id)).issue).toMatchObject({ remain: 2, drift: 0 });
    });
  });
});

describeEachGauge(
  'Redis script branches',
  (t) => {
    const redis = () => {
      if (!t.redis) throw new Error('a redis app');
      return t.redis.client;
    };

    it('refuses to cancel an issue already used when the held counter is gone, instead of skipping it', async () => {
      const coupon = await createLive(t, { issueStock: { total: 3 } });
      const { issueId } = await issued(t, coupon.id, 'ann');
      await used(t, coupon.id, 'ann');
      await redis().del(couponKeys(coupon.id).unusedIssues('ann'));
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/issues/${issueId}/cancel`, { token: CLIENT }), 503, 'STOCK_UNAVAILABLE');
      await new Maintenance(t.deps).run();
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/issues/${issueId}/cancel`, { token: CLIENT }), 409, 'ALREADY_USED');
      expect((await sync(t, coupon.id)).issue).toMatchObject({ remain: 2, drift: 0 });
    });

    it('answers an unknown outcome of a cancel and a commit 503; the retry acts once', async () => {
      const coupon = await createLive(t, { issueStock: { total: 3 }, useStock: { total: 3 } });
      const { issueId } = await issued(t, coupon.id, 'ann');
      const rest = t.redis?.rest;
      if (!rest) throw new Error('a redis app');
      // The script runs and its answer is lost (an HTTP 500 after it ran): the outcome is unknown.
      rest.faults.failNext(1, '500-after');
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/issues/${issueId}/cancel`, { token: CLIENT }), 503, 'STOCK_UNAVAILABLE');
      const again = await expectJson<{ status: string; remain: number }>(await t.call('POST', `/v1/coupons/${coupon.id}/issues/${issueId}/cancel`, { token: CLIENT }), 200);
      expect(again).toMatchObject({ status: 'cancelled', remain: 3 });
      await issued(t, coupon.id, 'bob');
      const { holdId } = await expectJson<{ holdId: string }>(await hold(t, coupon.id, 'bob', 'o1'), 201);
      rest.faults.failNext(1, '500-after');
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/holds/${holdId}/commit`, { token: CLIENT }), 503, 'STOCK_UNAVAILABLE');
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/holds/${holdId}/commit`, { token: CLIENT }), 200);
      await t.settle();
      expect(await sync(t, coupon.id)).toMatchObject({ issue: { remain: 2, ledger: 1, drift: 0 }, use: { remain: 2, ledger: 1, drift: 0 } });
    });

    it('adjusts a gauge written without its total (an older layout): the total is taken from remain', async () => {
      const coupon = await createLive(t, { issueStock: { total: 5 } });
      const key = couponKeys(coupon.id).issue;
      await redis().hdel(key, 't');
      const res = await t.call('POST', `/v1/coupons/${coupon.id}/stocks/issue/adjust`, { body: { delta: 2 } });
      expect(await expectJson(res, 200)).toMatchObject({ total: 7, remain: 7 });
    });

    it('loads a gauge with its expiry, and marks it so it cannot be lost silently', async () => {
      const prefix = couponKeys(`cpn_load${Date.now().toString(36)}`).prefix;
      const at = Date.now() + 60_000;
      await t.deps.gauges.load([{ key: `${prefix}p`, total: 2, remain: 1, expiresAt: at }]);
      const ttl = await redis().pttl(`${prefix}p`);
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
      expect(await redis().hget(`${prefix}markers`, `${prefix}p`)).toBe(String(at));
    });

    it('drops a hold whose operation record is gone from the list: it stays a use, the books balance', async () => {
      const base = Date.now();
      t.setNow(base);
      try {
        const coupon = await createLive(t, { useStock: { total: 3 } });
        const { holdId } = await expectJson<{ holdId: string }>(await hold(t, coupon.id, 'ann', 'o1'), 201);
        await redis().del(`${couponKeys(coupon.id).prefix}o:${holdId}`);
        t.setNow(base + 3_600_000);
        await new Maintenance(t.deps).run();
        expect(await redis().zcard(`${couponKeys(coupon.id).prefix}holds`)).toBe(0);
        expect((await sync(t, coupon.id)).use).toMatchObject({ remain: 2, ledger: 1, drift: 0 });
      } finally {
        t.setNow(null);
      }
    });

    it('reports a coupon the schedule cannot maintain and goes on with the others', async () => {
      const broken = await createLive(t, { issueStock: { total: 3 } });
      const fine = await createLive(t, { issueStock: { total: 3 } });
      await redis().hset(`${couponKeys(broken.id).prefix}holds`, { x: 1 });
      const summary = await new Maintenance(t.deps).run();
      expect(summary.failed.map((f) => f.couponId)).toContain(broken.id);
      expect(summary.failed.map((f) => f.couponId)).not.toContain(fine.id);
      expect((await getCoupon(t, fine.id)).issueStock?.syncedAt).not.toBeNull();
    });
  },
  ['redis'],
);

describe('maintenance pages past 200 live coupons', () => {
  it('syncs every one of 205 live coupons in one run', { timeout: 120_000 }, async () => {
    const t = await testApp();
    try {
      const admin = new CouponAdmin(t.deps);
      const ids: string[] = [];
      for (let i = 0; i < 205; i++) {
        const created = await admin.create(unlimitedSpec(`c${i}`, { issueStock: { total: 1 } }));
        if (!created.ok) throw new Error(created.detail);
        await admin.confirm(created.value.id);
        ids.push(created.value.id);
      }
      const summary = await new Maintenance(t.deps).run();
      expect(summary.synced).toBeGreaterThanOrEqual(205);
      expect(summary.failed).toEqual([]);
    } finally {
      await t.close();
    }
  });
});

describe('the Postgres gauge on a real PostgreSQL', () => {
  it('retries a transaction that deadlocked, and both sides finish', async () => {
    const db = await postgresDb();
    try {
      await db.db.execute(sql`create table if not exists deadlock_probe (id int primary key, n int not null)`);
      await db.db.execute(sql`insert into deadlock_probe values (1, 0), (2, 0) on conflict do nothing`);
      let attempts = 0;
      let meet: () => void = () => {};
      const met = new Promise<void>((r) => (meet = r));
      let arrived = 0;
      const barrier = async () => {
        arrived += 1;
        if (arrived === 2) meet();
        await met;
      };
      // Each locks one row, waits for the other, then wants the other's row: one is the deadlock victim.
      const side = (first: number, second: number) =>
        atomically(db.db, async (tx) => {
          attempts += 1;
          await tx.execute(sql`update deadlock_probe set n = n + 1 where id = ${first}`);
          if (attempts <= 2) await barrier();
          await tx.execute(sql`update deadlock_probe set n = n + 1 where id = ${second}`);
        });
      await Promise.all([side(1, 2), side(2, 1)]);
      expect(attempts).toBe(3);
      const [one, two] = await Promise.all([1, 2].map(async (id) => {
        const [row] = await db.db.select({ n: sql<number>`n` }).from(sql`deadlock_probe`).where(sql`id = ${id}`);
        return Number(row?.n);
      }));
      expect([one, two]).toEqual([2, 2]);
    } finally {
      await db.close();
    }
  });

  it('drops a scope while takes race it: no error escapes and nothing is left', async () => {
    const t = await testApp({ open: postgresDb });
    try {
      const coupon = await createLive(t, { issueStock: { total: 100 } });
      const takes = Array.from({ length: 30 }, (_, i) => issue(t, coupon.id, `u${i}`));
      await t.deps.gauges.drop(couponKeys(coupon.id).prefix);
      for (const res of await Promise.all(takes)) expect([201, 503]).toContain(res.status);
      expect(await t.deps.gauges.read([couponKeys(coupon.id).issue])).toEqual([null]);
    } finally {
      await t.close();
    }
  });
});
