/**
 * The breaks found between the tested paths (issue 10): each case is one that broke on the
 * code before it (an archive racing cancels, a retried adjust, a hold left behind by a missing
 * gauge, lost keys read as fresh, dead holds crowding out a take, racing status changes), run on
 * both gauge configurations where the break is not Redis-only.
 */
import { describe, expect, it } from 'vitest';
import { Maintenance } from '../src/coupon/maintenance.js';
import { CouponAdmin } from '../src/coupon/admin.js';
import { CouponRecovery } from '../src/coupon/recovery.js';
import { couponKeys } from '../src/coupon/keys.js';
import { gauges as gaugeRows } from '../src/adapters/postgres/schema.js';
import { eq } from 'drizzle-orm';
import { CLIENT, describeEachGauge, type TestApp } from './support/app.js';
import { body, createDraft, createLive, expectJson, expectProblem, getCoupon, issue, issued, live, sync, type CouponBody } from './support/fixtures.js';

const SECOND = 1_000;

/** A sync report with the fields these cases read. */
interface Report {
  issue: Record<string, unknown> | null;
  use: Record<string, unknown> | null;
  budget?: Record<string, unknown>;
  repaired: string[];
}
const report = async (t: TestApp, id: string) => (await sync(t, id)) as unknown as Report;

/** Deletes gauge keys of a coupon in whichever store holds them. */
async function deleteKeys(t: TestApp, keys: string[]): Promise<void> {
  if (t.redis) {
    await t.redis.client.del(...keys);
    return;
  }
  if (t.resp) {
    await t.resp.client.del(...keys);
    return;
  }
  for (const key of keys) await t.db.db.delete(gaugeRows).where(eq(gaugeRows.key, key));
}

const maintain = (t: TestApp) => new Maintenance(t.deps).run();

const adjust = (t: TestApp, id: string, delta: number, key?: string) =>
  t.call('POST', `/v1/coupons/${id}/stocks/issue/adjust`, { body: { delta }, headers: key === undefined ? {} : { 'idempotency-key': key } });

describeEachGauge('breaks between the tested paths', (t) => {
  describe('1. archive racing cancels', () => {
    it('keeps every cancel that answered 200: the archived remain is total − issued + cancels', { timeout: 120_000 }, async () => {
      const coupon = await createLive(t, { issueStock: { total: 1_000 } });
      const users = Array.from({ length: 400 }, (_, i) => `u${i}`);
      const batch = await expectJson<{ results: { issueId: string }[] }>(
        await t.call('POST', `/v1/coupons/${coupon.id}/issues:batch`, { token: CLIENT, body: { userIds: users }, headers: { 'idempotency-key': 'b1' } }),
        200,
      );
      await sync(t, coupon.id);
      const ids = batch.results.map((r) => r.issueId);
      let next = 0;
      let cancelled = 0;
      const statuses = new Set<number>();
      const worker = async () => {
        for (let i = next++; i < ids.length; i = next++) {
          const res = await t.call('POST', `/v1/coupons/${coupon.id}/issues/${ids[i]}/cancel`, { token: CLIENT });
          statuses.add(res.status);
          if (res.status === 200) cancelled += 1;
          else await expectProblem(res, 409, 'NOT_ACTIVE');
        }
      };
      // The archive starts once the cancels are under way, and the cancels go on after it answered.
      const workers = Array.from({ length: 8 }, worker);
      while (cancelled < 20) await new Promise((r) => setImmediate(r));
      const archived = await expectJson<CouponBody>(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
      await Promise.all(workers);
      const final = await getCoupon(t, coupon.id);
      expect(final.status).toBe('archived');
      expect(final.issueStock?.remain).toBe(1_000 - 400 + cancelled);
      expect(archived.issueStock?.remain).toBe(1_000 - 400 + cancelled);
      expect(statuses.has(200)).toBe(true);
      expect((await report(t, coupon.id)).issue).toMatchObject({ remain: 1_000 - 400 + cancelled, ledger: 400 - cancelled, drift: 0 });
    });

    it('a take whose answer was lost before the archive replays its 201 when retried after it, never NOT_ACTIVE (found by the model-based test)', async () => {
      const coupon = await createLive(t, { issueStock: { total: 5 }, useStock: { total: 5 } });
      const first = await expectJson<{ issueId: string }>(await issue(t, coupon.id, 'ann', { key: 'lost-issue' }), 201);
      const use = () => t.call('POST', `/v1/coupons/${coupon.id}/uses`, { token: CLIENT, body: { userId: 'ann' }, headers: { 'idempotency-key': 'lost-use' } });
      const used = await expectJson<{ useId: string }>(await use(), 201);
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
      // The client never saw those answers; it retries with the same keys.
      const again = await issue(t, coupon.id, 'ann', { key: 'lost-issue' });
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(await expectJson<{ issueId: string }>(again, 201)).toMatchObject({ issueId: first.issueId });
      expect(await expectJson<{ useId: string }>(await use(), 201)).toMatchObject({ useId: used.useId });
      // A new key on the archived coupon is still refused, and the books did not move.
      await expectProblem(await issue(t, coupon.id, 'bob', { key: 'new-after' }), 409, 'NOT_ACTIVE');
      expect((await getCoupon(t, coupon.id)).issueStock?.remain).toBe(4);
    });

    it('after the archive a committed hold answers a release or a commit NOT_ACTIVE on either gauge, though its take still replays (found by the model-based test)', async () => {
      const coupon = await createLive(t, { useStock: { total: 15 } });
      const hold = () => t.call('POST', `/v1/coupons/${coupon.id}/holds`, { token: CLIENT, body: { userId: 'ann', ownerId: 'cart-1', ttlSeconds: 600 } });
      const held = await expectJson<{ holdId: string }>(await hold(), 201);
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/holds/${held.holdId}/commit`, { token: CLIENT }), 200);
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/holds/${held.holdId}/release`, { token: CLIENT }), 409, 'NOT_ACTIVE');
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/holds/${held.holdId}/commit`, { token: CLIENT }), 409, 'NOT_ACTIVE');
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/uses/${held.holdId}/cancel`, { token: CLIENT }), 409, 'NOT_ACTIVE');
      const again = await expectJson<{ holdId: string; expiresAt: unknown }>(await hold(), 201);
      expect(again).toMatchObject({ holdId: held.holdId, expiresAt: expect.any(String) });
      expect((await getCoupon(t, coupon.id)).useStock?.remain).toBe(14);
    });

    it('a hold whose answer was lost before the archive replays its 201 when retried after it, though the archive gave it back (found by the model-based test)', async () => {
      const coupon = await createLive(t, { useStock: { total: 15 } });
      const hold = () => t.call('POST', `/v1/coupons/${coupon.id}/holds`, { token: CLIENT, body: { userId: 'ann', ownerId: 'cart-1', ttlSeconds: 600 } });
      const held = await expectJson<{ holdId: string }>(await hold(), 201);
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
      // The client never saw that answer; it retries. The hold happened, so NOT_ACTIVE would deny a take the ledger has.
      const again = await hold();
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(await expectJson<{ holdId: string }>(again, 201)).toMatchObject({ holdId: held.holdId });
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/holds/${held.holdId}/commit`, { token: CLIENT }), 409, 'NOT_ACTIVE');
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/holds`, { token: CLIENT, body: { userId: 'bob', ownerId: 'cart-2', ttlSeconds: 600 } }), 409, 'NOT_ACTIVE');
      expect((await getCoupon(t, coupon.id)).useStock?.remain).toBe(15);
      expect(await t.deps.ledger.operation(coupon.id, held.holdId)).toMatchObject({ kind: 'use', restored: true });
    });

    it('a hold whose time was up at the archive is answered as if a sweep had given it back: its owner gets NOT_ACTIVE, whether a sweep ran or not', async () => {
      const base = Date.now();
      t.setNow(base);
      try {
        const coupon = await createLive(t, { useStock: { total: 15 } });
        const hold = (owner: string, ttlSeconds = 1) => t.call('POST', `/v1/coupons/${coupon.id}/holds`, { token: CLIENT, body: { userId: 'ann', ownerId: owner, ttlSeconds } });
        await expectJson(await hold('swept', 1), 201);
        await expectJson(await hold('unswept', 3), 201);
        t.setNow(base + 2_000);
        await sync(t, coupon.id);
        expect((await live(t, coupon.id)).use).toMatchObject({ remain: 14 });
        t.setNow(base + 5_000);
        await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
        await expectProblem(await hold('swept', 1), 409, 'NOT_ACTIVE');
        await expectProblem(await hold('unswept', 3), 409, 'NOT_ACTIVE');
        expect((await getCoupon(t, coupon.id)).useStock?.remain).toBe(15);
      } finally {
        t.setNow(null);
      }
    });

    it('gives back standing holds at archive, and refuses commit, release and adjust once sealed', async () => {
      const coupon = await createLive(t, { useStock: { total: 5 } });
      const held = await body<{ holdId: string }>(
        await t.call('POST', `/v1/coupons/${coupon.id}/holds`, { token: CLIENT, body: { userId: 'ann', ownerId: 'o1', ttlSeconds: 600 } }),
      );
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
      expect((await getCoupon(t, coupon.id)).useStock?.remain).toBe(5);
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/holds/${held.holdId}/commit`, { token: CLIENT }), 409, 'NOT_ACTIVE');
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/holds/${held.holdId}/release`, { token: CLIENT }), 409, 'NOT_ACTIVE');
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/stocks/use/adjust`, { body: { delta: 1 } }), 409, 'INVALID_STATE');
      expect((await sync(t, coupon.id)).use).toMatchObject({ remain: 5, ledger: 0, drift: 0 });
    });

    it('refuses a resume while an archive is under way, and a rebuild racing it cannot revive the scope', async () => {
      const coupon = await createLive(t, { issueStock: { total: 3 } });
      const record = (await t.deps.coupons.get(coupon.id))!;
      // The archive's first step, as if it stopped right after it.
      await t.deps.gauges.seal(couponKeys(coupon.id).prefix, Date.now());
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/resume`), 409, 'NOT_ACTIVE');
      await expectProblem(await issue(t, coupon.id, 'u1'), 409, 'NOT_ACTIVE');
      // A rebuild that read the coupon live before the archive: nothing comes back to life.
      await new CouponRecovery(t.deps).rebuild(record);
      await expectProblem(await issue(t, coupon.id, 'u1'), 409, 'NOT_ACTIVE');
      // The schedule finishes the archive it finds sealed.
      const summary = await maintain(t);
      expect(summary.archived).toContain(coupon.id);
      await new CouponRecovery(t.deps).rebuild(record);
      await expectProblem(await issue(t, coupon.id, 'u1'), 409, 'NOT_ACTIVE');
      expect((await getCoupon(t, coupon.id)).issueStock?.remain).toBe(3);
    });

    it('a second archive that read the coupon before the first one finished never saves numbers from its stale copy (found by the model-based test)', async () => {
      const coupon = await createLive(t, { issueStock: { total: 2 } });
      await issued(t, coupon.id, 'ann');
      await issued(t, coupon.id, 'ann');
      // An adjust whose gauge write landed but whose durable total has not followed yet.
      const keys = couponKeys(coupon.id);
      expect(await t.deps.gauges.adjust({ prefix: keys.prefix, key: keys.issue, delta: 1, opId: 'adj_lagging', fingerprint: 'issue:1' })).toMatchObject({ ok: true, total: 3, remain: 1 });
      // The loser of two racing archives read the coupon (live, total 2) before the winner ran.
      const stale = (await t.deps.coupons.get(coupon.id))!;
      expect(stale.stocks.issue?.total).toBe(2);
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
      let first = true;
      const loser = new Maintenance({
        ...t.deps,
        coupons: Object.assign(Object.create(t.deps.coupons) as typeof t.deps.coupons, {
          get: async (id: string) => {
            if (first) {
              first = false;
              return structuredClone(stale);
            }
            return t.deps.coupons.get(id);
          },
        }),
      });
      expect((await loser.archive(coupon.id)).ok).toBe(true);
      const final = await getCoupon(t, coupon.id);
      expect(final.status).toBe('archived');
      expect(final.issueStock).toMatchObject({ total: 3, remain: 1 });
      expect((await report(t, coupon.id)).issue).toMatchObject({ total: 3, remain: 1, ledger: 2, drift: 0 });
    });
  });

  describe('2. adjust exactly once', () => {
    it('replays an adjust retried with the same Idempotency-Key and refuses the key with another delta', async () => {
      const coupon = await createLive(t, { issueStock: { total: 10 } });
      const first = await adjust(t, coupon.id, 20, 'adj-1');
      expect(await expectJson(first, 200)).toMatchObject({ total: 30, remain: 30 });
      const again = await adjust(t, coupon.id, 20, 'adj-1');
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(await expectJson(again, 200)).toMatchObject({ total: 30, remain: 30 });
      await expectProblem(await adjust(t, coupon.id, 5, 'adj-1'), 409, 'IDEMPOTENCY_KEY_REUSED');
      expect(await live(t, coupon.id)).toMatchObject({ issue: { total: 30, remain: 30 } });
      expect((await getCoupon(t, coupon.id)).issueStock?.total).toBe(30);
    });

    it('a durable total left behind by a lost answer is repaired by the next sync, which says so', async () => {
      const coupon = await createLive(t, { issueStock: { total: 10 } });
      const keys = couponKeys(coupon.id);
      // The gauge took the adjust; the answer (and so the durable copy) was lost.
      const adjusted = await t.deps.gauges.adjust({ prefix: keys.prefix, key: keys.issue, delta: 7, opId: 'lost-answer', fingerprint: 'issue:7' });
      expect(adjusted).toMatchObject({ ok: true, total: 17 });
      expect((await getCoupon(t, coupon.id)).issueStock?.total).toBe(10);
      expect(await report(t, coupon.id)).toMatchObject({ repaired: ['issue'], issue: { total: 17, drift: 0 } });
      expect((await getCoupon(t, coupon.id)).issueStock?.total).toBe(17);
      // A late copy of an older version never undoes it.
      expect(await t.deps.coupons.setTotal(keys.issue, 10, 0)).toBe(false);
      expect((await report(t, coupon.id)).repaired).toEqual([]);
    });
  });

  describe('3. a hold whose gauge is missing at sweep time', () => {
    it('stays on the list until the gauge is rebuilt, then gives its stock and budget back', async () => {
      const start = Date.now();
      t.setNow(start);
      try {
        const coupon = await createLive(t, { useStock: { total: 10 }, budget: { total: 10_000, currency: 'EUR' } });
        const keys = couponKeys(coupon.id);
        await expectJson(
          await t.call('POST', `/v1/coupons/${coupon.id}/holds`, { token: CLIENT, body: { userId: 'ann', ownerId: 'o1', ttlSeconds: 1, discountAmount: 500 } }),
          201,
        );
        await t.settle();
        await deleteKeys(t, [keys.use]);
        t.setNow(start + 5 * SECOND);
        // The sweep cannot give the hold back (its gauge is gone): it must not drop it either.
        await maintain(t);
        await maintain(t);
        const books = await report(t, coupon.id);
        expect(books.use).toMatchObject({ remain: 10, ledger: 0, drift: 0 });
        expect(books.budget).toMatchObject({ remain: 10_000, ledger: 0, drift: 0 });
        expect(await live(t, coupon.id)).toMatchObject({ use: { total: 10, remain: 10 }, budget: { total: 10_000, remain: 10_000 } });
      } finally {
        t.setNow(null);
      }
    });
  });

  describe('6. dead holds never crowd out a take that fits', () => {
    it('gives back 20 expired €5 holds before a €60 use decides; the 11th owner holds anew', async () => {
      const start = Date.now();
      t.setNow(start);
      try {
        const coupon = await createLive(t, { useStock: { total: 100 }, budget: { total: 10_000, currency: 'EUR' } });
        for (let i = 0; i < 20; i++) {
          await expectJson(
            await t.call('POST', `/v1/coupons/${coupon.id}/holds`, { token: CLIENT, body: { userId: `u${i}`, ownerId: `o${i}`, ttlSeconds: 1, discountAmount: 500 } }),
            201,
          );
        }
        expect((await live(t, coupon.id)).budget).toEqual({ total: 10_000, remain: 0 });
        t.setNow(start + 2 * SECOND);
        const use = await t.call('POST', `/v1/coupons/${coupon.id}/uses`, { token: CLIENT, body: { userId: 'big', discountAmount: 6_000 }, headers: { 'idempotency-key': 'big' } });
        expect(await expectJson(use, 201)).toMatchObject({ budgetRemain: 4_000 });
        const again = await expectJson<{ expiresAt: string }>(
          await t.call('POST', `/v1/coupons/${coupon.id}/holds`, { token: CLIENT, body: { userId: 'u10', ownerId: 'o10', ttlSeconds: 60, discountAmount: 500 } }),
          201,
        );
        expect(Date.parse(again.expiresAt)).toBeGreaterThan(start + 2 * SECOND);
        expect((await report(t, coupon.id)).budget).toMatchObject({ remain: 3_500, drift: 0 });
      } finally {
        t.setNow(null);
      }
    });
  });

  describe('dead holds never make a cancel refuse', () => {
    it('cancels an issue whose coupon an expired, unswept hold still held (found by the model-based test)', async () => {
      const start = Date.now();
      t.setNow(start);
      try {
        const coupon = await createLive(t, { issueStock: { total: 2 } });
        const { issueId } = await issued(t, coupon.id, 'ann');
        await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/holds`, { token: CLIENT, body: { userId: 'ann', ownerId: 'cart', ttlSeconds: 1 } }), 201);
        t.setNow(start + 45 * SECOND);
        const cancelled = await expectJson<{ status: string; remain: number }>(await t.call('POST', `/v1/coupons/${coupon.id}/issues/${issueId}/cancel`, { token: CLIENT }), 200);
        expect(cancelled).toMatchObject({ status: 'cancelled', remain: 2 });
        await t.settle();
        expect(await report(t, coupon.id)).toMatchObject({ issue: { remain: 2, ledger: 0, drift: 0 } });
      } finally {
        t.setNow(null);
      }
    });
  });

  describe('a commit retried after its use was cancelled', () => {
    it('replays its 200 (it did commit, once), and the release still says ALREADY_USED (found by the model-based test)', async () => {
      const coupon = await createLive(t, { useStock: { total: 15 } });
      const held = await expectJson<{ holdId: string }>(await t.call('POST', `/v1/coupons/${coupon.id}/holds`, { token: CLIENT, body: { userId: 'ann', ownerId: 'cart-1', ttlSeconds: 600 } }), 201);
      const commit = () => t.call('POST', `/v1/coupons/${coupon.id}/holds/${held.holdId}/commit`, { token: CLIENT });
      expect(await expectJson(await commit(), 200)).toMatchObject({ status: 'committed', useId: held.holdId });
      // The commit's answer was lost; meanwhile the use is cancelled; then the commit is retried.
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/uses/${held.holdId}/cancel`, { token: CLIENT }), 200);
      expect(await expectJson(await commit(), 200)).toMatchObject({ status: 'committed', useId: held.holdId });
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/holds/${held.holdId}/release`, { token: CLIENT }), 409, 'ALREADY_USED');
      expect((await getCoupon(t, coupon.id)).useStock?.remain).toBe(15);
      await t.settle();
      expect(await t.deps.ledger.operation(coupon.id, held.holdId)).toMatchObject({ kind: 'use', restored: true });
    });
  });

  describe('racing status changes', () => {
    it('a confirm or rebuild that read "confirmed" cannot reopen a coupon paused meanwhile', async () => {
      const coupon = await createLive(t, { issueStock: { total: 3 } });
      const stale = (await t.deps.coupons.get(coupon.id))!;
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/pause`), 200);
      const recovery = new CouponRecovery(t.deps);
      await recovery.ensureLive(stale);
      await recovery.rebuild(stale);
      await expectProblem(await issue(t, coupon.id, 'u1'), 409, 'NOT_ACTIVE');
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/resume`), 200);
      await issued(t, coupon.id, 'u1');
    });

    it('a resume answers with the status it set, even when a pause lands before its answer (found by the model-based test)', async () => {
      const coupon = await createLive(t, { issueStock: { total: 3 } });
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/pause`), 200);
      const racing = new CouponAdmin(t.deps);
      let pauseLanded = false;
      const admin = new CouponAdmin({
        ...t.deps,
        coupons: Object.assign(Object.create(t.deps.coupons) as typeof t.deps.coupons, {
          transition: async (...args: Parameters<typeof t.deps.coupons.transition>) => {
            const version = await t.deps.coupons.transition(...args);
            // A pause from another caller lands between this resume's write and its answer.
            if (!pauseLanded) {
              pauseLanded = true;
              expect((await racing.pause(coupon.id)).ok).toBe(true);
            }
            return version;
          },
        }),
      });
      const resumed = await admin.resume(coupon.id);
      expect(resumed.ok && resumed.value.status).toBe('confirmed');
      expect((await getCoupon(t, coupon.id)).status).toBe('paused');
      await expectProblem(await issue(t, coupon.id, 'u1'), 409, 'NOT_ACTIVE');
    });

    it('pause and resume racing each other end with the gauge as the last status says', async () => {
      const coupon = await createLive(t, { issueStock: { total: 50 } });
      const actions = Array.from({ length: 12 }, (_, i) => t.call('POST', `/v1/coupons/${coupon.id}/${i % 2 ? 'resume' : 'pause'}`));
      for (const res of await Promise.all(actions)) expect(res.status).toBe(200);
      const status = (await getCoupon(t, coupon.id)).status;
      const res = await issue(t, coupon.id, 'probe');
      if (status === 'confirmed') expect(res.status).toBe(201);
      else await expectProblem(res, 409, 'NOT_ACTIVE');
    });

    it('a PATCH landing between a confirm\'s read and its write never leaves stocks that differ from the spec', async () => {
      const draft = await createDraft(t, { issueStock: { total: 5 } });
      // The real repository, with a PATCH of the draft forced in right after the confirm's first read.
      let patched = false;
      const coupons = t.deps.coupons;
      const racing = Object.create(coupons) as typeof coupons;
      racing.get = async (id) => {
        const read = await coupons.get(id);
        if (!patched && read?.status === 'draft') {
          patched = true;
          await coupons.updateDraft(id, { ...read, issueStock: { total: 9 } }, new Date(Date.now() + 1));
        }
        return read;
      };
      const confirmed = await new CouponAdmin({ ...t.deps, coupons: racing }).confirm(draft.id);
      expect(confirmed.ok).toBe(true);
      expect(patched).toBe(true);
      const coupon = await getCoupon(t, draft.id);
      expect(coupon.issueStock?.total).toBe(9);
      expect((await live(t, draft.id)).issue?.total).toBe(9);
    });
  });
});

describeEachGauge(
  'breaks on the Redis path',
  (t) => {
    const redis = () => {
      if (!t.redis) throw new Error('a redis app');
      return t.redis;
    };
    /** Every key of the coupon in Redis. */
    async function keysOf(id: string): Promise<string[]> {
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await redis().client.scan(cursor, { match: `cs:{c:${id}}:*`, count: 1000 });
        found.push(...keys);
        cursor = String(next);
      } while (cursor !== '0');
      return found;
    }

    it('a rebuild that read "confirmed" cannot reopen a coupon paused meanwhile while its policy was gone (found by the model-based test)', async () => {
      const coupon = await createLive(t, { issueStock: { total: 3 } });
      const stale = (await t.deps.coupons.get(coupon.id))!;
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/pause`), 200);
      // The pause closed the policy; then the policy is lost, and the rebuild writes it anew.
      await redis().client.del(`${couponKeys(coupon.id).prefix}policy`);
      await new CouponRecovery(t.deps).rebuild(stale);
      await expectProblem(await issue(t, coupon.id, 'u1'), 409, 'NOT_ACTIVE');
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/resume`), 200);
      await issued(t, coupon.id, 'u1');
    });

    it('2. adjusts once when the answer is lost after the script ran and the client retries', async () => {
      const coupon = await createLive(t, { issueStock: { total: 10 } });
      redis().rest.faults.failNext(1, 'timeout-after', 20);
      const res = await adjust(t, coupon.id, 20);
      expect(res.status).toBe(200);
      expect(await live(t, coupon.id)).toMatchObject({ issue: { total: 30, remain: 30 } });
      expect((await getCoupon(t, coupon.id)).issueStock?.total).toBe(30);
    });

    it('4. a per-user counter that is gone fails closed until a rebuild brings it back', async () => {
      const coupon = await createLive(t, { issueStock: { total: 10 }, perUserIssueLimit: 1 });
      await issued(t, coupon.id, 'alice');
      await t.settle();
      const alices = (await keysOf(coupon.id)).filter((k) => k.includes('alice'));
      expect(alices.length).toBeGreaterThan(0);
      await redis().client.del(...alices);
      await expectProblem(await issue(t, coupon.id, 'alice'), 503, 'STOCK_UNAVAILABLE');
      // Others go on; the schedule rebuilds what the take reported lost.
      await issued(t, coupon.id, 'bob');
      const summary = await maintain(t);
      expect(summary.rebuilt).toContain(coupon.id);
      await expectProblem(await issue(t, coupon.id, 'alice'), 409, 'USER_LIMIT_REACHED');
      expect((await sync(t, coupon.id)).issue).toMatchObject({ remain: 8, drift: 0 });
    });

    it('4. a daily cap whose gauge was evicted (volatile-*) fails closed, then is rebuilt from the ledger', async () => {
      const coupon = await createLive(t, { issueStock: { total: 10 }, issuePeriodStock: { total: 2, period: 'day' } });
      await issued(t, coupon.id, 'a');
      await issued(t, coupon.id, 'b');
      await expectProblem(await issue(t, coupon.id, 'c'), 409, 'PERIOD_SOLD_OUT');
      await t.settle();
      // What volatile-* eviction takes: exactly the keys with a time to live.
      const volatile: string[] = [];
      for (const key of await keysOf(coupon.id)) if ((await redis().client.pttl(key)) > 0) volatile.push(key);
      expect(volatile.length).toBeGreaterThan(0);
      await redis().client.del(...volatile);
      await expectProblem(await issue(t, coupon.id, 'c'), 503, 'STOCK_UNAVAILABLE');
      await expectProblem(await issue(t, coupon.id, 'd'), 503, 'STOCK_UNAVAILABLE');
      await maintain(t);
      await expectProblem(await issue(t, coupon.id, 'c'), 409, 'PERIOD_SOLD_OUT');
    });

    it('4. a hold list that is gone: no refusal until the schedule lists the holds again, then they expire', async () => {
      const base = Date.now();
      t.setNow(base);
      try {
        const coupon = await createLive(t, { useStock: { total: 2 } });
        for (const owner of ['o1', 'o2']) {
          await expectJson(
            await t.call('POST', `/v1/coupons/${coupon.id}/holds`, { token: CLIENT, body: { userId: `u-${owner}`, ownerId: owner, ttlSeconds: 60 } }),
            201,
          );
        }
        await redis().client.del(`${couponKeys(coupon.id).prefix}holds`);
        t.setNow(base + 120_000);
        // Both holds are over, but nothing can find them: a refusal now could be a false sell-out.
        const use = () => t.call('POST', `/v1/coupons/${coupon.id}/uses`, { token: CLIENT, body: { userId: 'late' }, headers: { 'idempotency-key': 'late' } });
        await expectProblem(await use(), 503, 'STOCK_UNAVAILABLE');
        const summary = await maintain(t);
        expect(summary.rebuilt).toContain(coupon.id);
        await maintain(t);
        expect(await expectJson(await use(), 201)).toMatchObject({ remain: 1 });
        await t.settle();
        expect((await report(t, coupon.id)).use).toMatchObject({ remain: 1, ledger: 1, drift: 0 });
      } finally {
        t.setNow(null);
      }
    });

    it('4. an archive gives back a hold whose per-user counter is gone: the counter dies with the coupon, the stock comes back (found by the model-based test)', async () => {
      const coupon = await createLive(t, { useStock: { total: 15 }, perUserUseLimit: 1 });
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/holds`, { token: CLIENT, body: { userId: 'ann', ownerId: 'cart-1', ttlSeconds: 600 } }), 201);
      await t.settle();
      const anns = (await keysOf(coupon.id)).filter((k) => k.endsWith(':ann'));
      expect(anns.length).toBeGreaterThan(0);
      await redis().client.del(...anns);
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
      const final = await getCoupon(t, coupon.id);
      expect(final.useStock).toMatchObject({ total: 15, remain: 15 });
      expect((await report(t, coupon.id)).use).toMatchObject({ remain: 15, ledger: 0, drift: 0 });
    });

    it('4. an archive whose hold list is gone lists the holds again and gives them back: the archived books get the stock back (found by the model-based test)', async () => {
      const coupon = await createLive(t, { useStock: { total: 2 } });
      const held = await expectJson<{ holdId: string }>(await t.call('POST', `/v1/coupons/${coupon.id}/holds`, { token: CLIENT, body: { userId: 'ann', ownerId: 'cart-1', ttlSeconds: 1 } }), 201);
      await redis().client.del(`${couponKeys(coupon.id).prefix}holds`);
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
      expect((await getCoupon(t, coupon.id)).useStock).toMatchObject({ total: 2, remain: 2 });
      expect(await t.deps.ledger.operation(coupon.id, held.holdId)).toMatchObject({ kind: 'use', restored: true });
    });

    it('4. an operation record that is gone fails a cancel closed (503), never "does not exist" (found by the model-based test)', async () => {
      const coupon = await createLive(t, { issueStock: { total: 3 } });
      const { issueId } = await issued(t, coupon.id, 'ann');
      await redis().client.del(`${couponKeys(coupon.id).prefix}o:${issueId}`);
      const res = await t.call('POST', `/v1/coupons/${coupon.id}/issues/${issueId}/cancel`, { token: CLIENT });
      expect((await expectProblem(res, 503, 'STOCK_UNAVAILABLE')).detail).toMatch(/lost/);
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/issues/iss_0000000000zzzzzzzzzzzzzzzz/cancel`, { token: CLIENT }), 404, 'NOT_FOUND');
      expect((await report(t, coupon.id)).issue).toMatchObject({ remain: 2, ledger: 1, drift: 0 });
    });

    it('4. a hold retried after its operation record is gone fails closed (503), never a 201 with an expiry made up (found by the model-based test)', async () => {
      const coupon = await createLive(t, { useStock: { total: 3 } });
      const hold = () => t.call('POST', `/v1/coupons/${coupon.id}/holds`, { token: CLIENT, body: { userId: 'ann', ownerId: 'cart-1', ttlSeconds: 120 } });
      const held = await expectJson<{ holdId: string }>(await hold(), 201);
      await redis().client.del(`${couponKeys(coupon.id).prefix}o:${held.holdId}`);
      // Its idempotency record still names the hold, but not when it runs out: no answer can be given.
      await expectProblem(await hold(), 503, 'STOCK_UNAVAILABLE');
      // Other owners go on.
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/holds`, { token: CLIENT, body: { userId: 'bob', ownerId: 'cart-2', ttlSeconds: 120 } }), 201);
    });

    it('4. an archive run again after the sealed policy was lost keeps the idempotency records: a take whose answer was lost still replays (found by the model-based test)', async () => {
      const coupon = await createLive(t, { issueStock: { total: 2 } });
      const first = await expectJson<{ issueId: string }>(await issue(t, coupon.id, 'ann', { key: 'lost-answer' }), 201);
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
      await redis().client.del(`${couponKeys(coupon.id).prefix}policy`);
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
      const again = await issue(t, coupon.id, 'ann', { key: 'lost-answer' });
      expect(await expectJson<{ issueId: string }>(again, 201)).toMatchObject({ issueId: first.issueId });
      await expectProblem(await issue(t, coupon.id, 'bob', { key: 'new-after' }), 409, 'NOT_ACTIVE');
    });

    it('4. the markers themselves gone while the policy says they were made: everything lazy fails closed', async () => {
      const coupon = await createLive(t, { issueStock: { total: 10 }, perUserIssueLimit: 1 });
      await issued(t, coupon.id, 'alice');
      await t.settle();
      await redis().client.del(`${couponKeys(coupon.id).prefix}markers`, `${couponKeys(coupon.id).prefix}ui:alice`);
      await expectProblem(await issue(t, coupon.id, 'alice'), 503, 'STOCK_UNAVAILABLE');
      await expectProblem(await issue(t, coupon.id, 'zed'), 503, 'STOCK_UNAVAILABLE');
      await maintain(t);
      await expectProblem(await issue(t, coupon.id, 'alice'), 409, 'USER_LIMIT_REACHED');
      await issued(t, coupon.id, 'zed');
    });
  },
  ['redis'],
);
