/**
 * Money budgets through the HTTP API (Postgres gauge): every use gives up its discountAmount
 * from the coupon's budget in the same take as the use stock, all or nothing; a use that does
 * not say its discount is refused; a cancel gives the money back; sync checks
 * `total − remain = discounts given`, adjust and recovery work on the budget like on any stock.
 */
import { describe, expect, it } from 'vitest';
import { CLIENT, useTestApp } from '../support/app.js';
import { createLive, expectJson, expectProblem, issued, live, loseGauges } from '../support/fixtures.js';
import type { SyncReportJson, UseJson } from '../../src/http/schemas.js';

useTestApp('budget', (t) => {

  const spend = (couponId: string, userId: string, discountAmount?: number, key?: string) =>
    t.call('POST', `/v1/coupons/${couponId}/uses`, {
      token: CLIENT,
      body: { userId, orderId: `o-${userId}`, ...(discountAmount === undefined ? {} : { discountAmount }) },
      headers: key ? { 'idempotency-key': key } : {},
    });
  const spent = async (couponId: string, userId: string, discountAmount: number, key?: string) => expectJson<UseJson>(await spend(couponId, userId, discountAmount, key), 201);
  const syncBudget = async (couponId: string) =>
    (await expectJson<SyncReportJson>(await t.call('POST', `/v1/coupons/${couponId}/stocks/sync`), 200));

  describe('money budgets', () => {
    it('takes each discount from the budget, never more than is left, and says what is left', async () => {
      const coupon = await createLive(t, { useStock: { total: 100 }, budget: { total: 1_000, currency: 'EUR' } });
      expect(coupon.budget).toEqual({ total: 1_000, remain: 1_000, syncedAt: expect.any(String), currency: 'EUR' });
      expect(await spent(coupon.id, 'a', 300)).toMatchObject({ remain: 99, budgetRemain: 700 });
      await spent(coupon.id, 'b', 300);
      await spent(coupon.id, 'c', 300);
      const refused = await expectProblem(await spend(coupon.id, 'd', 300), 409, 'BUDGET_EXHAUSTED');
      expect(refused.detail).toContain('budget');
      // All or nothing: the refused use took no use stock.
      expect(await live(t, coupon.id)).toEqual({ issue: null, use: { total: 100, remain: 97 }, budget: { total: 1_000, remain: 100 } });
      expect(await spent(coupon.id, 'd', 100)).toMatchObject({ budgetRemain: 0 });
      expect(await spent(coupon.id, 'e', 0)).toMatchObject({ budgetRemain: 0 });
      const books = await syncBudget(coupon.id);
      expect(books.budget).toMatchObject({ total: 1_000, remain: 0, ledger: 1_000, drift: 0 });
      expect(books.drifted).toEqual([]);
    });

    it('refuses a use that does not say its discount, and takes nothing', async () => {
      const coupon = await createLive(t, { useStock: { total: 10 }, budget: { total: 1_000, currency: 'USD' } });
      const problem = await expectProblem(await spend(coupon.id, 'a'), 400, 'VALIDATION_FAILED');
      expect(problem.errors).toEqual([{ path: 'body.discountAmount', message: expect.stringContaining('required') }]);
      for (const bad of [-1, 1.5, '100', 1e13]) {
        await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/uses`, { token: CLIENT, body: { userId: 'a', discountAmount: bad } }), 400, 'VALIDATION_FAILED');
      }
      expect(await live(t, coupon.id)).toEqual({ issue: null, use: { total: 10, remain: 10 }, budget: { total: 1_000, remain: 1_000 } });
    });

    it('ignores a stated discount on a coupon without a budget', async () => {
      const coupon = await createLive(t, { useStock: { total: 10 } });
      expect(await spent(coupon.id, 'a', 500)).toEqual({ useId: expect.any(String), couponId: coupon.id, userId: 'a', remain: 9 });
    });

    it('gives the discount back when the use is cancelled, once', async () => {
      const coupon = await createLive(t, { issueStock: { total: 5 }, budget: { total: 500, currency: 'EUR' } });
      await issued(t, coupon.id, 'a');
      const use = await spent(coupon.id, 'a', 450);
      for (let i = 0; i < 2; i++) await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/uses/${use.useId}/cancel`, { token: CLIENT }), 200);
      expect((await live(t, coupon.id)).budget).toEqual({ total: 500, remain: 500 });
      expect((await syncBudget(coupon.id)).budget).toMatchObject({ remain: 500, ledger: 0, drift: 0 });
    });

    it('replays a retried use without spending twice, and refuses the same key with another amount', async () => {
      const coupon = await createLive(t, { useStock: { total: 10 }, budget: { total: 1_000, currency: 'EUR' } });
      const first = await spent(coupon.id, 'a', 250, 'pay-1');
      expect(await spent(coupon.id, 'a', 250, 'pay-1')).toEqual(first);
      await expectProblem(await spend(coupon.id, 'a', 300, 'pay-1'), 409, 'IDEMPOTENCY_KEY_REUSED');
      expect((await live(t, coupon.id)).budget).toEqual({ total: 1_000, remain: 750 });
    });

    it('adjusts the live budget, refusing below zero', async () => {
      const coupon = await createLive(t, { useStock: { total: 10 }, budget: { total: 100, currency: 'EUR' } });
      await spent(coupon.id, 'a', 80);
      const adjust = (delta: number) => t.call('POST', `/v1/coupons/${coupon.id}/stocks/budget/adjust`, { body: { delta } });
      expect(await expectJson(await adjust(400), 200)).toMatchObject({ stock: 'budget', total: 500, remain: 420 });
      await expectProblem(await adjust(-421), 409, 'BELOW_ZERO');
      expect((await syncBudget(coupon.id)).budget).toMatchObject({ total: 500, remain: 420, ledger: 80, drift: 0 });
    });

    it('rebuilds the budget from the discounts in the ledger when its gauge is lost', async () => {
      const coupon = await createLive(t, { useStock: { total: 10 }, budget: { total: 1_000, currency: 'EUR' } });
      await spent(coupon.id, 'a', 300);
      const cancelled = await spent(coupon.id, 'b', 200);
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/uses/${cancelled.useId}/cancel`, { token: CLIENT }), 200);
      await loseGauges(t, coupon.id);
      await expectProblem(await spend(coupon.id, 'c', 10), 503, 'STOCK_UNAVAILABLE');
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/rebuild`), 200);
      expect((await live(t, coupon.id)).budget).toEqual({ total: 1_000, remain: 700 });
      expect(await spent(coupon.id, 'c', 700)).toMatchObject({ budgetRemain: 0 });
    });

    it('validates the budget of a coupon', async () => {
      for (const bad of [{ total: 100 }, { total: 100, currency: 'eur' }, { total: 100, currency: 'EURO' }, { total: -1, currency: 'EUR' }, { total: 1.5, currency: 'EUR' }, { total: 1, currency: 'EUR', x: 1 }]) {
        await expectProblem(await t.call('POST', '/v1/coupons', { body: { name: 'b', budget: bad } }), 400, 'VALIDATION_FAILED');
      }
    });
  });
});
