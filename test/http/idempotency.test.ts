/**
 * Idempotency-Key on issue and use, by Stripe's rules: same key and body replays the first
 * answer; another body is 409; keys are scoped to the token, the coupon and the route; only
 * successful takes are remembered.
 */
import { describe, expect, it } from 'vitest';
import { ADMIN, CLIENT, useTestApp } from '../support/app.js';
import {
  createLive,
  DAY,
  expectJson,
  expectProblem,
  issue,
  issued,
  live,
  sync,
  use,
  used,
  type IssuedBody,
} from '../support/fixtures.js';

useTestApp('idempotency', (t) => {

  describe('same key, same body', () => {
    it('replays the first status and body with Idempotent-Replayed: true and takes once', async () => {
      const coupon = await createLive(t, { issueStock: { total: 10 } });
      const first = await issue(t, coupon.id, 'u1', { key: 'order-1' });
      expect(first.status).toBe(201);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      const firstBody = await first.text();
      for (let i = 0; i < 3; i++) {
        const again = await issue(t, coupon.id, 'u1', { key: 'order-1' });
        expect(again.status).toBe(201);
        expect(again.headers.get('idempotent-replayed')).toBe('true');
        expect(await again.text()).toBe(firstBody);
      }
      expect((JSON.parse(firstBody) as IssuedBody).remain).toBe(9);
      expect((await live(t, coupon.id)).issue?.remain).toBe(9);
      expect((await sync(t, coupon.id)).issue).toMatchObject({ ledger: 1, drift: 0 });
    });

    it('replays a use with its orderId, and keeps replaying while paused and a day later', async () => {
      const coupon = await createLive(t, { useStock: { total: 5 } });
      const first = await used(t, coupon.id, 'u1', { key: 'pay-77', orderId: 'order-77' });
      const replay = await use(t, coupon.id, 'u1', { key: 'pay-77', orderId: 'order-77' });
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(await expectJson(replay, 201)).toEqual(first);
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/pause`), 200);
      expect(await expectJson(await use(t, coupon.id, 'u1', { key: 'pay-77', orderId: 'order-77' }), 201)).toEqual(first);
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/resume`), 200);
      t.setNow(Date.now() + DAY - 60_000);
      expect(await expectJson(await use(t, coupon.id, 'u1', { key: 'pay-77', orderId: 'order-77' }), 201)).toEqual(first);
      expect((await live(t, coupon.id)).use?.remain).toBe(4);
    });

    it('without a key, each request is a new take', async () => {
      const coupon = await createLive(t, { issueStock: { total: 10 } });
      const a = await issued(t, coupon.id, 'u1');
      const b = await issued(t, coupon.id, 'u1');
      expect(a.issueId).not.toBe(b.issueId);
      expect((await live(t, coupon.id)).issue?.remain).toBe(8);
    });
  });

  describe('same key, different body', () => {
    it('refuses with 409 IDEMPOTENCY_KEY_REUSED and takes nothing', async () => {
      const coupon = await createLive(t, { issueStock: { total: 10 }, useStock: { total: 10 } });
      await issued(t, coupon.id, 'u1', { key: 'k-1' });
      await expectProblem(await issue(t, coupon.id, 'u2', { key: 'k-1' }), 409, 'IDEMPOTENCY_KEY_REUSED');
      await issued(t, coupon.id, 'u2');
      await used(t, coupon.id, 'u1', { key: 'u-1', orderId: 'o-1' });
      await expectProblem(await use(t, coupon.id, 'u1', { key: 'u-1', orderId: 'o-2' }), 409, 'IDEMPOTENCY_KEY_REUSED');
      await expectProblem(await use(t, coupon.id, 'u1', { key: 'u-1' }), 409, 'IDEMPOTENCY_KEY_REUSED');
      expect(await live(t, coupon.id)).toEqual({ issue: { total: 10, remain: 8 }, use: { total: 10, remain: 9 } });
    });
  });

  describe('scope', () => {
    it('is per token: the client and the admin token with the same key take twice', async () => {
      const coupon = await createLive(t, { issueStock: { total: 10 }, perUserIssueLimit: 5 });
      const byClient = await issued(t, coupon.id, 'u1', { key: 'shared', token: CLIENT });
      const byAdmin = await issue(t, coupon.id, 'u1', { key: 'shared', token: ADMIN });
      expect(byAdmin.headers.get('idempotent-replayed')).toBeNull();
      const adminBody = await expectJson<IssuedBody>(byAdmin, 201);
      expect(adminBody.issueId).not.toBe(byClient.issueId);
      expect(adminBody.remain).toBe(8);
    });

    it('is per coupon: the same key on another coupon is a new take', async () => {
      const a = await createLive(t, { issueStock: { total: 10 } });
      const b = await createLive(t, { issueStock: { total: 10 } });
      const onA = await issued(t, a.id, 'u1', { key: 'same' });
      const res = await issue(t, b.id, 'u1', { key: 'same' });
      expect(res.headers.get('idempotent-replayed')).toBeNull();
      const onB = await expectJson<IssuedBody>(res, 201);
      expect(onB).toMatchObject({ couponId: b.id, remain: 9 });
      expect(onB.issueId).not.toBe(onA.issueId);
    });

    it('is per route: the same key on issues and on uses are two takes', async () => {
      const coupon = await createLive(t, { issueStock: { total: 10 }, useStock: { total: 10 } });
      const i = await issued(t, coupon.id, 'u1', { key: 'checkout-5' });
      const res = await use(t, coupon.id, 'u1', { key: 'checkout-5' });
      expect(res.headers.get('idempotent-replayed')).toBeNull();
      const u = await expectJson<{ useId: string; remain: number }>(res, 201);
      expect(u.useId).toMatch(/^use_/);
      expect(i.issueId).toMatch(/^iss_/);
      expect(await live(t, coupon.id)).toEqual({ issue: { total: 10, remain: 9 }, use: { total: 10, remain: 9 } });
    });
  });

  describe('refusals are not remembered', () => {
    it('a key refused with SOLD_OUT succeeds after an adjust raises the stock', async () => {
      const coupon = await createLive(t, { issueStock: { total: 1 } });
      await issued(t, coupon.id, 'u1');
      await expectProblem(await issue(t, coupon.id, 'u2', { key: 'retry-me' }), 409, 'SOLD_OUT');
      await expectProblem(await issue(t, coupon.id, 'u2', { key: 'retry-me' }), 409, 'SOLD_OUT');
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/stocks/issue/adjust`, { body: { delta: 1 } }), 200);
      const res = await issue(t, coupon.id, 'u2', { key: 'retry-me' });
      expect(res.headers.get('idempotent-replayed')).toBeNull();
      expect((await expectJson<IssuedBody>(res, 201)).remain).toBe(0);
      const replay = await issue(t, coupon.id, 'u2', { key: 'retry-me' });
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
    });

    it('a key refused while paused succeeds after resume, and may carry another body', async () => {
      const coupon = await createLive(t, { issueStock: { total: 5 } });
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/pause`), 200);
      await expectProblem(await issue(t, coupon.id, 'u1', { key: 'k' }), 409, 'NOT_ACTIVE');
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/resume`), 200);
      expect((await issued(t, coupon.id, 'u2', { key: 'k' })).userId).toBe('u2');
    });
  });

  describe('invalid keys', () => {
    it('refuses empty, too long, non-ASCII and spaced keys with 400, taking nothing', async () => {
      const coupon = await createLive(t, { issueStock: { total: 5 } });
      for (const key of ['', 'k'.repeat(256), 'clé', 'two words', 'tab\tinside']) {
        const problem = await expectProblem(await issue(t, coupon.id, 'u1', { key }), 400, 'VALIDATION_FAILED');
        expect(problem.errors?.map((e) => e.path)).toContain('header.idempotency-key');
        await expectProblem(await use(t, coupon.id, 'u1', { key }), 400, 'VALIDATION_FAILED');
      }
      expect((await live(t, coupon.id)).issue?.remain).toBe(5);
      expect((await issued(t, coupon.id, 'u1', { key: 'k'.repeat(255) })).remain).toBe(4);
      expect((await issued(t, coupon.id, 'u2', { key: '~!#$%&*+-./:;<=>?@[]^_`{|}' })).remain).toBe(3);
    });
  });
});
