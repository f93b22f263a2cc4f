/**
 * Holds (checkout reservations) through the HTTP API, on the Postgres gauge with a clock the
 * test moves: a hold takes a use now; commit makes it a use; release, or its time running out,
 * gives everything back (lazily in the next take, and by the schedule) — a hold never leaks
 * stock; the same owner holding again gets its own hold back instead of "limit reached".
 */
import { describe, expect, it } from 'vitest';
import { Maintenance } from '../../src/coupon/maintenance.js';
import { login, pageHtml } from '../support/admin-page.js';
import { CLIENT, useTestApp } from '../support/app.js';
import { createLive, expectJson, expectProblem, issued, live, sync, used } from '../support/fixtures.js';
import type { HoldJson } from '../../src/http/schemas.js';

useTestApp('holds', (t) => {

  const T0 = Date.now() + 3_600_000;

  type HoldBody = HoldJson;

  const holdReq = (couponId: string, userId: string, ownerId: string, ttlSeconds = 600, extra: Record<string, unknown> = {}) =>
    t.call('POST', `/v1/coupons/${couponId}/holds`, { token: CLIENT, body: { userId, ownerId, ttlSeconds, ...extra } });
  const hold = async (couponId: string, userId: string, ownerId: string, ttlSeconds = 600, extra: Record<string, unknown> = {}) =>
    expectJson<HoldBody>(await holdReq(couponId, userId, ownerId, ttlSeconds, extra), 201);
  const act = (couponId: string, holdId: string, action: 'commit' | 'release') => t.call('POST', `/v1/coupons/${couponId}/holds/${holdId}/${action}`, { token: CLIENT });

  describe('holds', () => {
    it('holds a use for a checkout, re-entrant for its owner, and commits it into a use', async () => {
      t.setNow(T0);
      const coupon = await createLive(t, { useStock: { total: 5 }, perUserUseLimit: 1 });
      const res = await holdReq(coupon.id, 'ann', 'order-1', 900);
      const h = await expectJson<HoldBody>(res, 201);
      expect(h).toEqual({ holdId: expect.stringMatching(/^use_/), couponId: coupon.id, userId: 'ann', ownerId: 'order-1', expiresAt: new Date(T0 + 900_000).toISOString(), remain: 4 });
      // The order retries checkout: its own hold, not "limit reached".
      const again = await holdReq(coupon.id, 'ann', 'order-1', 900);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(await expectJson<HoldBody>(again, 201)).toEqual(h);
      // Another order of the same user is a second use: the per-user limit says no.
      await expectProblem(await holdReq(coupon.id, 'ann', 'order-2'), 409, 'USER_LIMIT_REACHED');
      const committed = await expectJson(await act(coupon.id, h.holdId, 'commit'), 200);
      expect(committed).toEqual({ holdId: h.holdId, useId: h.holdId, couponId: coupon.id, userId: 'ann', ownerId: 'order-1', status: 'committed' });
      expect(await expectJson(await act(coupon.id, h.holdId, 'commit'), 200)).toEqual(committed);
      // Committed holds outlive their time; releasing one is refused, cancelling the use works.
      t.setNow(T0 + 3_600_000);
      await new Maintenance(t.deps).run();
      expect(await live(t, coupon.id)).toEqual({ issue: null, use: { total: 5, remain: 4 } });
      await expectProblem(await act(coupon.id, h.holdId, 'release'), 409, 'ALREADY_USED');
      expect(await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/uses/${h.holdId}/cancel`, { token: CLIENT }), 200)).toMatchObject({ status: 'cancelled', remain: 5 });
    });

    it('gives an expired hold back in the next take: a take that fits is never refused', async () => {
      t.setNow(T0);
      const coupon = await createLive(t, { useStock: { total: 1 } });
      const a = await hold(coupon.id, 'ann', 'cart-a', 60);
      await expectProblem(await holdReq(coupon.id, 'bob', 'cart-b'), 409, 'SOLD_OUT');
      t.setNow(T0 + 60_000);
      expect((await used(t, coupon.id, 'bob')).remain).toBe(0);
      await expectProblem(await act(coupon.id, a.holdId, 'commit'), 409, 'HOLD_EXPIRED');
      expect((await sync(t, coupon.id)).use).toMatchObject({ total: 1, remain: 0, ledger: 1, drift: 0 });
    });

    it('releases once; a commit after the release is HOLD_EXPIRED; the same owner may hold again', async () => {
      t.setNow(T0);
      const coupon = await createLive(t, { useStock: { total: 3 } });
      const h = await hold(coupon.id, 'ann', 'order-9');
      expect(await expectJson(await act(coupon.id, h.holdId, 'release'), 200)).toEqual({ holdId: h.holdId, couponId: coupon.id, userId: 'ann', ownerId: 'order-9', status: 'released', remain: 3 });
      expect(await expectJson(await act(coupon.id, h.holdId, 'release'), 200)).toMatchObject({ status: 'released', remain: 3 });
      await expectProblem(await act(coupon.id, h.holdId, 'commit'), 409, 'HOLD_EXPIRED');
      const anew = await hold(coupon.id, 'ann', 'order-9');
      expect(anew.holdId).not.toBe(h.holdId);
      expect(anew.remain).toBe(2);
    });

    it('lets the schedule give back holds nobody touched, books balanced', async () => {
      t.setNow(T0);
      const coupon = await createLive(t, { useStock: { total: 10 } });
      for (const user of ['a', 'b', 'c']) await hold(coupon.id, user, `o-${user}`, 120);
      expect(await live(t, coupon.id)).toEqual({ issue: null, use: { total: 10, remain: 7 }, holds: 3 });
      const page = await pageHtml(t, await login(t));
      expect(page.slice(page.indexOf(`data-coupon="${coupon.id}"`))).toContain('3 standing');
      t.setNow(T0 + 120_000);
      await new Maintenance(t.deps).run();
      expect((await live(t, coupon.id)).use).toEqual({ total: 10, remain: 10 });
      expect((await sync(t, coupon.id)).use).toMatchObject({ remain: 10, ledger: 0, drift: 0 });
    });

    it('holds an issued coupon of the user, and gives it back to the user on expiry', async () => {
      t.setNow(T0);
      const coupon = await createLive(t, { issueStock: { total: 5 }, perUserIssueLimit: 1 });
      await expectProblem(await holdReq(coupon.id, 'nobody', 'o-1'), 409, 'NOT_ISSUED');
      await issued(t, coupon.id, 'ann');
      await hold(coupon.id, 'ann', 'o-1', 30);
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/uses`, { token: CLIENT, body: { userId: 'ann' } }), 409, 'NOT_ISSUED');
      t.setNow(T0 + 30_000);
      expect(await used(t, coupon.id, 'ann')).toMatchObject({ userId: 'ann' });
    });

    it('holds the discount of a budgeted coupon, and a release gives the money back', async () => {
      t.setNow(T0);
      const coupon = await createLive(t, { useStock: { total: 10 }, budget: { total: 1_000, currency: 'EUR' } });
      await expectProblem(await holdReq(coupon.id, 'ann', 'o-1'), 400, 'VALIDATION_FAILED');
      const h = await hold(coupon.id, 'ann', 'o-1', 600, { discountAmount: 700 });
      expect(h.budgetRemain).toBe(300);
      await expectProblem(await holdReq(coupon.id, 'bob', 'o-2', 600, { discountAmount: 400 }), 409, 'BUDGET_EXHAUSTED');
      // The same owner with another amount is not the same hold.
      await expectProblem(await holdReq(coupon.id, 'ann', 'o-1', 600, { discountAmount: 100 }), 409, 'IDEMPOTENCY_KEY_REUSED');
      await expectJson(await act(coupon.id, h.holdId, 'release'), 200);
      expect((await live(t, coupon.id)).budget).toEqual({ total: 1_000, remain: 1_000 });
    });

    it('validates holds and answers 404 for unknown ones', async () => {
      const coupon = await createLive(t, { useStock: { total: 3 } });
      for (const body of [{ userId: 'a', ttlSeconds: 60 }, { userId: 'a', ownerId: 'o', ttlSeconds: 0 }, { userId: 'a', ownerId: 'o', ttlSeconds: 86_401 }, { userId: 'a', ownerId: 'o', ttlSeconds: 1.5 }, { userId: 'a', ownerId: '', ttlSeconds: 60 }, { userId: 'a', ownerId: 'o', ttlSeconds: 60, x: 1 }]) {
        await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/holds`, { token: CLIENT, body }), 400, 'VALIDATION_FAILED');
      }
      for (const action of ['commit', 'release'] as const) {
        await expectProblem(await act(coupon.id, 'use_0000000000zzzzzzzzzzzzzzzz', action), 404, 'NOT_FOUND');
        await expectProblem(await act(coupon.id, 'bad id', action), 404, 'NOT_FOUND');
      }
      // A plain use is not a hold.
      const plain = await used(t, coupon.id, 'p');
      await expectProblem(await act(coupon.id, plain.useId, 'commit'), 404, 'NOT_FOUND');
      await expectProblem(await act(coupon.id, plain.useId, 'release'), 404, 'NOT_FOUND');
      expect((await live(t, coupon.id)).use).toEqual({ total: 3, remain: 2 });
    });
  });
});
