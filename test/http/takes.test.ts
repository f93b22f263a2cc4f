/**
 * Issue, use, cancel, live stock and a user's coupons through the HTTP API.
 */
import { describe, expect, it } from 'vitest';
import { CLIENT, useTestApp } from '../support/app.js';
import {
  at,
  createDraft,
  createLive,
  DAY,
  expectJson,
  expectProblem,
  issue,
  issued,
  live,
  sync,
  UNKNOWN_COUPON,
  UNKNOWN_ISSUE,
  UNKNOWN_USE,
  use,
  used,
} from '../support/fixtures.js';
import type { IssueCancelledJson, UseCancelledJson, UserCouponsJson } from '../../src/http/schemas.js';

useTestApp('takes', (t) => {

  type CancelledBody = Partial<IssueCancelledJson & UseCancelledJson> & Pick<IssueCancelledJson, 'couponId' | 'userId' | 'status' | 'remain'>;

  const cancel = (couponId: string, kind: 'issues' | 'uses', id: string) =>
    t.call('POST', `/v1/coupons/${couponId}/${kind}/${id}/cancel`, { token: CLIENT });

  describe('POST /v1/coupons/{id}/issues', () => {
    it('answers 201 {issueId, couponId, userId, remain} and counts the stock down', async () => {
      const coupon = await createLive(t, { issueStock: { total: 3 } });
      const first = await expectJson<Record<string, unknown>>(await issue(t, coupon.id, 'alice'), 201);
      expect(first).toEqual({ issueId: expect.stringMatching(/^iss_[0-9a-z]{26}$/), couponId: coupon.id, userId: 'alice', remain: 2 });
      expect((await issued(t, coupon.id, 'bob')).remain).toBe(1);
      expect(await live(t, coupon.id)).toEqual({ issue: { total: 3, remain: 1 }, use: null });
    });

    it('answers remain null for an unlimited issue stock', async () => {
      const coupon = await createLive(t, { perUserIssueLimit: 5 });
      expect((await issued(t, coupon.id, 'alice')).remain).toBeNull();
      expect(await live(t, coupon.id)).toEqual({ issue: null, use: null });
    });

    it('refuses 409 SOLD_OUT once the stock is gone', async () => {
      const coupon = await createLive(t, { issueStock: { total: 2 } });
      await issued(t, coupon.id, 'u1');
      await issued(t, coupon.id, 'u2');
      await expectProblem(await issue(t, coupon.id, 'u3'), 409, 'SOLD_OUT');
      expect((await live(t, coupon.id)).issue).toEqual({ total: 2, remain: 0 });
    });

    it('refuses 409 USER_LIMIT_REACHED past perUserIssueLimit without taking the stock', async () => {
      const coupon = await createLive(t, { issueStock: { total: 10 }, perUserIssueLimit: 2 });
      await issued(t, coupon.id, 'u1');
      await issued(t, coupon.id, 'u1');
      await expectProblem(await issue(t, coupon.id, 'u1'), 409, 'USER_LIMIT_REACHED');
      expect((await live(t, coupon.id)).issue?.remain).toBe(8);
      expect((await issued(t, coupon.id, 'u2')).remain).toBe(7);
    });

    it('refuses 409 NOT_ACTIVE for a draft and outside the issue window', async () => {
      const draft = await createDraft(t, { issueStock: { total: 5 } });
      await expectProblem(await issue(t, draft.id, 'u1'), 409, 'NOT_ACTIVE');
      const T = Date.parse('2026-03-01T00:00:00Z');
      const coupon = await createLive(t, { issueStock: { total: 5 }, issueWindow: { start: at(T), end: at(T + DAY) } });
      t.setNow(T - 1);
      expect((await expectProblem(await issue(t, coupon.id, 'u1'), 409, 'NOT_ACTIVE')).detail).toMatch(/not started/);
      t.setNow(T);
      await issued(t, coupon.id, 'u1');
      t.setNow(T + DAY - 1);
      await issued(t, coupon.id, 'u2');
      t.setNow(T + DAY);
      expect((await expectProblem(await issue(t, coupon.id, 'u3'), 409, 'NOT_ACTIVE')).detail).toMatch(/ended/);
      expect((await live(t, coupon.id)).issue?.remain).toBe(3);
    });

    it('answers 404 for an unknown coupon and 400 for a bad body', async () => {
      await expectProblem(await issue(t, UNKNOWN_COUPON, 'u1'), 404, 'NOT_FOUND');
      await expectProblem(await issue(t, 'garbage', 'u1'), 404, 'NOT_FOUND');
      const coupon = await createLive(t, { issueStock: { total: 1 } });
      for (const payload of [{}, { userId: '' }, { userId: 7 }, { userId: 'a\u0000b' }, { userId: 'x'.repeat(129) }, { userId: 'u', extra: true }]) {
        await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/issues`, { token: CLIENT, body: payload }), 400, 'VALIDATION_FAILED');
      }
      expect((await live(t, coupon.id)).issue?.remain).toBe(1);
    });
  });

  describe('POST /v1/coupons/{id}/uses', () => {
    it('needs an issued, unused coupon on an issued coupon (409 NOT_ISSUED)', async () => {
      const coupon = await createLive(t, { issueStock: { total: 5 }, useStock: { total: 5 } });
      await expectProblem(await use(t, coupon.id, 'u1'), 409, 'NOT_ISSUED');
      await issued(t, coupon.id, 'u1');
      const res = await use(t, coupon.id, 'u1', { orderId: 'order-1' });
      expect(await expectJson<Record<string, unknown>>(res, 201)).toEqual({ useId: expect.stringMatching(/^use_[0-9a-z]{26}$/), couponId: coupon.id, userId: 'u1', remain: 4 });
      await expectProblem(await use(t, coupon.id, 'u1'), 409, 'NOT_ISSUED');
      await expectProblem(await use(t, coupon.id, 'u2'), 409, 'NOT_ISSUED');
      expect((await live(t, coupon.id)).use).toEqual({ total: 5, remain: 4 });
    });

    it('lets any user use a public coupon within useStock and perUserUseLimit', async () => {
      const coupon = await createLive(t, { useStock: { total: 3 }, perUserUseLimit: 2 });
      expect((await used(t, coupon.id, 'u1')).remain).toBe(2);
      expect((await used(t, coupon.id, 'u1')).remain).toBe(1);
      await expectProblem(await use(t, coupon.id, 'u1'), 409, 'USER_LIMIT_REACHED');
      expect((await used(t, coupon.id, 'u2')).remain).toBe(0);
      await expectProblem(await use(t, coupon.id, 'u3'), 409, 'SOLD_OUT');
      expect(await live(t, coupon.id)).toEqual({ issue: null, use: { total: 3, remain: 0 } });
    });

    it('answers remain null on an unlimited public coupon', async () => {
      const coupon = await createLive(t);
      expect((await used(t, coupon.id, 'anyone')).remain).toBeNull();
    });

    it('refuses 409 NOT_ACTIVE outside the use window and for a draft; 404 for unknown', async () => {
      const T = Date.parse('2026-04-01T00:00:00Z');
      const coupon = await createLive(t, { perUserIssueLimit: 3, useWindow: { start: at(T), end: at(T + DAY) } });
      t.setNow(T - DAY);
      await issued(t, coupon.id, 'u1');
      await issued(t, coupon.id, 'u1');
      await expectProblem(await use(t, coupon.id, 'u1'), 409, 'NOT_ACTIVE');
      t.setNow(T + 1);
      await used(t, coupon.id, 'u1');
      t.setNow(T + DAY);
      expect((await expectProblem(await use(t, coupon.id, 'u1'), 409, 'NOT_ACTIVE')).detail).toMatch(/use window/);
      const draft = await createDraft(t);
      await expectProblem(await use(t, draft.id, 'u1'), 409, 'NOT_ACTIVE');
      await expectProblem(await use(t, UNKNOWN_COUPON, 'u1'), 404, 'NOT_FOUND');
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/uses`, { token: CLIENT, body: { userId: 'u1', orderId: '' } }), 400, 'VALIDATION_FAILED');
    });
  });

  describe('cancel', () => {
    it('restores an issue once however often it is called', async () => {
      const coupon = await createLive(t, { issueStock: { total: 2 }, perUserIssueLimit: 1 });
      const taken = await issued(t, coupon.id, 'u1');
      const first = await expectJson<CancelledBody>(await cancel(coupon.id, 'issues', taken.issueId), 200);
      expect(first).toEqual({ issueId: taken.issueId, couponId: coupon.id, userId: 'u1', status: 'cancelled', remain: 2 });
      const second = await expectJson<CancelledBody>(await cancel(coupon.id, 'issues', taken.issueId), 200);
      expect(second).toMatchObject({ issueId: taken.issueId, status: 'cancelled', remain: 2 });
      expect((await live(t, coupon.id)).issue).toEqual({ total: 2, remain: 2 });
      await issued(t, coupon.id, 'u1');
      expect((await sync(t, coupon.id)).issue).toMatchObject({ remain: 1, ledger: 1, drift: 0 });
    });

    it('refuses to cancel a used issue with 409 ALREADY_USED', async () => {
      const coupon = await createLive(t, { issueStock: { total: 2 } });
      const taken = await issued(t, coupon.id, 'u1');
      await used(t, coupon.id, 'u1');
      await expectProblem(await cancel(coupon.id, 'issues', taken.issueId), 409, 'ALREADY_USED');
      expect((await live(t, coupon.id)).issue?.remain).toBe(1);
    });

    it('restores a use once and the user holds the coupon again', async () => {
      const coupon = await createLive(t, { issueStock: { total: 2 }, useStock: { total: 1 } });
      await issued(t, coupon.id, 'u1');
      const spent = await used(t, coupon.id, 'u1', { orderId: 'order-9' });
      await expectProblem(await use(t, coupon.id, 'u1'), 409, 'NOT_ISSUED');
      const first = await expectJson<CancelledBody>(await cancel(coupon.id, 'uses', spent.useId), 200);
      expect(first).toEqual({ useId: spent.useId, couponId: coupon.id, userId: 'u1', orderId: 'order-9', status: 'cancelled', remain: 1 });
      expect((await expectJson<CancelledBody>(await cancel(coupon.id, 'uses', spent.useId), 200)).remain).toBe(1);
      expect((await live(t, coupon.id)).use).toEqual({ total: 1, remain: 1 });
      expect((await used(t, coupon.id, 'u1')).remain).toBe(0);
    });

    it('answers 404 for unknown issues and uses, ids of the wrong kind and other coupons', async () => {
      const coupon = await createLive(t, { issueStock: { total: 2 } });
      const other = await createLive(t, { issueStock: { total: 2 } });
      const taken = await issued(t, coupon.id, 'u1');
      await expectProblem(await cancel(coupon.id, 'issues', UNKNOWN_ISSUE), 404, 'NOT_FOUND');
      await expectProblem(await cancel(coupon.id, 'uses', UNKNOWN_USE), 404, 'NOT_FOUND');
      await expectProblem(await cancel(coupon.id, 'issues', 'garbage'), 404, 'NOT_FOUND');
      await expectProblem(await cancel(coupon.id, 'uses', taken.issueId), 404, 'NOT_FOUND');
      await expectProblem(await cancel(other.id, 'issues', taken.issueId), 404, 'NOT_FOUND');
      await expectProblem(await cancel(UNKNOWN_COUPON, 'issues', taken.issueId), 404, 'NOT_FOUND');
      expect((await live(t, coupon.id)).issue?.remain).toBe(1);
    });
  });

  describe('GET /v1/coupons/{id}/stocks/live', () => {
    it('answers 404 for an unknown coupon and 409 NOT_ACTIVE for a draft', async () => {
      await expectProblem(await t.call('GET', `/v1/coupons/${UNKNOWN_COUPON}/stocks/live`, { token: CLIENT }), 404, 'NOT_FOUND');
      await expectProblem(await t.call('GET', '/v1/coupons/garbage/stocks/live', { token: CLIENT }), 404, 'NOT_FOUND');
      const draft = await createDraft(t, { issueStock: { total: 1 } });
      await expectProblem(await t.call('GET', `/v1/coupons/${draft.id}/stocks/live`, { token: CLIENT }), 409, 'NOT_ACTIVE');
    });
  });

  describe('GET /v1/users/{userId}/coupons', () => {
    type HoldingsBody = UserCouponsJson;

    it('lists what the user holds: issued, used, cancelled', async () => {
      const user = `holder-${Date.now()}`;
      const coupon = await createLive(t, { issueStock: { total: 5 }, perUserIssueLimit: 3 });
      const kept = await issued(t, coupon.id, user);
      const dropped = await issued(t, coupon.id, user);
      const spent = await used(t, coupon.id, user, { orderId: 'order-1' });
      await expectJson(await cancel(coupon.id, 'issues', dropped.issueId), 200);
      await issued(t, coupon.id, 'someone-else');
      await t.settle(); // holdings come from the ledger, which on Redis the drains fill after the answers

      const holdings = await expectJson<HoldingsBody>(await t.call('GET', `/v1/users/${user}/coupons`, { token: CLIENT }), 200);
      expect(holdings.userId).toBe(user);
      expect(holdings.coupons).toHaveLength(1);
      const [held] = holdings.coupons;
      expect(held).toMatchObject({ couponId: coupon.id, issued: 1, used: 1, cancelled: 1 });
      expect(held?.issues.map((r) => [r.id, r.status]).sort()).toEqual([[dropped.issueId, 'cancelled'], [kept.issueId, 'active']].sort());
      expect(held?.issues.find((r) => r.id === dropped.issueId)?.cancelledAt).toEqual(expect.any(String));
      expect(held?.uses).toEqual([{ id: spent.useId, orderId: 'order-1', at: expect.any(String), status: 'active', cancelledAt: null }]);
    });

    it('answers an empty list for a user with nothing, and 400 for a bad user id', async () => {
      expect(await expectJson<HoldingsBody>(await t.call('GET', '/v1/users/nobody-at-all/coupons', { token: CLIENT }), 200)).toEqual({ userId: 'nobody-at-all', coupons: [] });
      await expectProblem(await t.call('GET', `/v1/users/${'x'.repeat(129)}/coupons`, { token: CLIENT }), 400, 'VALIDATION_FAILED');
      await expectProblem(await t.call('GET', '/v1/users/a%01b/coupons', { token: CLIENT }), 400, 'VALIDATION_FAILED');
    });
  });
});
