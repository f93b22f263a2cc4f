/**
 * Live limits through the HTTP API: adjust, sync (drift), archive (answers from Postgres
 * afterwards) and failing closed when a gauge is gone.
 */
import { describe, expect, it } from 'vitest';
import { CLIENT, useTestApp } from '../support/app.js';
import {
  createDraft,
  createLive,
  expectJson,
  expectProblem,
  getCoupon,
  issue,
  issued,
  live,
  loseGauges,
  sync,
  UNKNOWN_COUPON,
  use,
  used,
  type CouponBody,
  type LiveBody,
} from '../support/fixtures.js';
import type { AdjustedJson } from '../../src/http/schemas.js';

useTestApp('stocks', (t) => {
  type AdjustedBody = AdjustedJson;

  const adjust = (id: string, stock: string, delta: unknown) =>
    t.call('POST', `/v1/coupons/${id}/stocks/${stock}/adjust`, { body: { delta } });

  describe('POST /v1/coupons/{id}/stocks/{issue|use}/adjust', () => {
    it('raises and lowers a live limit; the coupon and the live stock follow', async () => {
      const coupon = await createLive(t, { issueStock: { total: 5 }, useStock: { total: 3 } });
      await issued(t, coupon.id, 'u1');
      expect(await expectJson<AdjustedBody>(await adjust(coupon.id, 'issue', 10), 200)).toEqual({ couponId: coupon.id, stock: 'issue', total: 15, remain: 14 });
      expect(await expectJson<AdjustedBody>(await adjust(coupon.id, 'issue', -4), 200)).toEqual({ couponId: coupon.id, stock: 'issue', total: 11, remain: 10 });
      expect(await expectJson<AdjustedBody>(await adjust(coupon.id, 'use', -3), 200)).toEqual({ couponId: coupon.id, stock: 'use', total: 0, remain: 0 });
      expect(await live(t, coupon.id)).toEqual({ issue: { total: 11, remain: 10 }, use: { total: 0, remain: 0 } });
      expect((await getCoupon(t, coupon.id)).issueStock?.total).toBe(11);
      await expectProblem(await use(t, coupon.id, 'u1'), 409, 'SOLD_OUT');
    });

    it('refuses 409 BELOW_ZERO when remain would go below zero, and changes nothing', async () => {
      const coupon = await createLive(t, { issueStock: { total: 3 } });
      await issued(t, coupon.id, 'u1');
      await issued(t, coupon.id, 'u2');
      await expectProblem(await adjust(coupon.id, 'issue', -2), 409, 'BELOW_ZERO');
      expect((await live(t, coupon.id)).issue).toEqual({ total: 3, remain: 1 });
      expect((await getCoupon(t, coupon.id)).issueStock?.total).toBe(3);
      expect(await expectJson<AdjustedBody>(await adjust(coupon.id, 'issue', -1), 200)).toMatchObject({ total: 2, remain: 0 });
    });

    it('refuses a draft, an archived coupon and an unlimited stock with 409', async () => {
      const draft = await createDraft(t, { issueStock: { total: 3 } });
      await expectProblem(await adjust(draft.id, 'issue', 1), 409, 'INVALID_STATE');
      const unlimited = await createLive(t, { issueStock: { total: 3 } });
      await expectProblem(await adjust(unlimited.id, 'use', 1), 409, 'INVALID_STATE');
      await expectJson(await t.call('POST', `/v1/coupons/${unlimited.id}/archive`), 200);
      await expectProblem(await adjust(unlimited.id, 'issue', 1), 409, 'INVALID_STATE');
      expect((await getCoupon(t, draft.id)).issueStock?.total).toBe(3);
    });

    it('refuses delta 0, fractions, strings, a missing delta and unknown stocks with 400', async () => {
      const coupon = await createLive(t, { issueStock: { total: 3 } });
      for (const delta of [0, 1.5, '2', null, 1e13]) {
        await expectProblem(await adjust(coupon.id, 'issue', delta), 400, 'VALIDATION_FAILED');
      }
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/stocks/issue/adjust`, { body: {} }), 400, 'VALIDATION_FAILED');
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/stocks/issue/adjust`, { body: { delta: 1, extra: 1 } }), 400, 'VALIDATION_FAILED');
      await expectProblem(await adjust(coupon.id, 'gift', 1), 400, 'VALIDATION_FAILED');
      expect((await live(t, coupon.id)).issue).toEqual({ total: 3, remain: 3 });
      await expectProblem(await adjust(UNKNOWN_COUPON, 'issue', 1), 404, 'NOT_FOUND');
    });
  });

  describe('POST /v1/coupons/{id}/stocks/sync', () => {
    it('reports both stocks with drift 0 after takes and cancels, and saves the live remain', async () => {
      const coupon = await createLive(t, { issueStock: { total: 10 }, useStock: { total: 4 } });
      const first = await issued(t, coupon.id, 'u1');
      await issued(t, coupon.id, 'u2');
      await issued(t, coupon.id, 'u3');
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/issues/${first.issueId}/cancel`, { token: CLIENT }), 200);
      const u2 = await used(t, coupon.id, 'u2');
      await used(t, coupon.id, 'u3');
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/uses/${u2.useId}/cancel`, { token: CLIENT }), 200);

      const report = await sync(t, coupon.id);
      expect(report).toEqual({
        couponId: coupon.id,
        status: 'confirmed',
        syncedAt: expect.any(String),
        drained: expect.any(Number),
        issue: { total: 10, remain: 8, syncedAt: report.syncedAt, live: true, ledger: 2, drift: 0 },
        use: { total: 4, remain: 3, syncedAt: report.syncedAt, live: true, ledger: 1, drift: 0 },
        missing: [],
        repaired: [],
        drifted: [],
      });
      const saved = await getCoupon(t, coupon.id);
      expect(saved.issueStock).toEqual({ total: 10, remain: 8, syncedAt: report.syncedAt });
      expect(saved.useStock).toEqual({ total: 4, remain: 3, syncedAt: report.syncedAt });
    });

    it('reports null for unlimited stocks; refuses a draft with 409; unknown is 404', async () => {
      const coupon = await createLive(t, { perUserIssueLimit: 1 });
      await issued(t, coupon.id, 'u1');
      const report = await sync(t, coupon.id);
      expect(report).toMatchObject({ issue: null, use: null, missing: [], drifted: [] });
      const draft = await createDraft(t);
      await expectProblem(await t.call('POST', `/v1/coupons/${draft.id}/stocks/sync`), 409, 'NOT_ACTIVE');
      await expectProblem(await t.call('POST', `/v1/coupons/${UNKNOWN_COUPON}/stocks/sync`), 404, 'NOT_FOUND');
      await expectProblem(await t.call('POST', '/v1/coupons/nope/stocks/sync'), 404, 'NOT_FOUND');
    });
  });

  describe('POST /v1/coupons/{id}/archive', () => {
    it('archives after a final sync; live answers from Postgres; takes are refused', async () => {
      const coupon = await createLive(t, { issueStock: { total: 6 }, useStock: { total: 6 } });
      const kept = await issued(t, coupon.id, 'u1');
      await issued(t, coupon.id, 'u2');
      const spent = await used(t, coupon.id, 'u2');
      const archived = await expectJson<CouponBody>(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
      expect(archived.status).toBe('archived');
      expect(archived.issueStock).toEqual({ total: 6, remain: 4, syncedAt: expect.any(String) });
      expect(archived.useStock).toEqual({ total: 6, remain: 5, syncedAt: expect.any(String) });
      expect(await live(t, coupon.id)).toEqual<LiveBody>({ issue: { total: 6, remain: 4 }, use: { total: 6, remain: 5 } });

      await expectProblem(await issue(t, coupon.id, 'u3'), 409, 'NOT_ACTIVE');
      await expectProblem(await use(t, coupon.id, 'u1'), 409, 'NOT_ACTIVE');
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/issues/${kept.issueId}/cancel`, { token: CLIENT }), 409, 'NOT_ACTIVE');
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/uses/${spent.useId}/cancel`, { token: CLIENT }), 409, 'NOT_ACTIVE');

      const again = await expectJson<CouponBody>(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
      expect(again).toEqual(archived);
      const report = await sync(t, coupon.id);
      expect(report).toMatchObject({ status: 'archived', issue: { remain: 4, ledger: 2, drift: 0 }, use: { remain: 5, ledger: 1, drift: 0 } });
      expect(await getCoupon(t, coupon.id)).toEqual(archived);
    });

    it('archives a paused coupon; refuses a draft with 409; unknown is 404', async () => {
      const paused = await createLive(t, { issueStock: { total: 2 } });
      await expectJson(await t.call('POST', `/v1/coupons/${paused.id}/pause`), 200);
      expect((await expectJson<CouponBody>(await t.call('POST', `/v1/coupons/${paused.id}/archive`), 200)).status).toBe('archived');
      const draft = await createDraft(t);
      await expectProblem(await t.call('POST', `/v1/coupons/${draft.id}/archive`), 409, 'INVALID_STATE');
      expect((await getCoupon(t, draft.id)).status).toBe('draft');
      await expectProblem(await t.call('POST', `/v1/coupons/${UNKNOWN_COUPON}/archive`), 404, 'NOT_FOUND');
    });
  });

  describe('a live coupon whose gauges are gone', () => {
    it('fails closed with 503 STOCK_UNAVAILABLE, never syncs 0, and confirm rebuilds from total − ledger', async () => {
      const coupon = await createLive(t, { issueStock: { total: 5 } });
      await issued(t, coupon.id, 'u1');
      await issued(t, coupon.id, 'u2');
      await sync(t, coupon.id);
      await issued(t, coupon.id, 'u3');
      await loseGauges(t, coupon.id);

      await expectProblem(await issue(t, coupon.id, 'u4'), 503, 'STOCK_UNAVAILABLE');
      await expectProblem(await t.call('GET', `/v1/coupons/${coupon.id}/stocks/live`, { token: CLIENT }), 503, 'STOCK_UNAVAILABLE');
      const report = await sync(t, coupon.id);
      expect(report.missing).toEqual(['issue']);
      expect(report.issue).toMatchObject({ total: 5, remain: 3, live: false, ledger: 3 });
      expect((await getCoupon(t, coupon.id)).issueStock?.remain).toBe(3);

      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/confirm`), 200);
      expect((await live(t, coupon.id)).issue).toEqual({ total: 5, remain: 2 });
      expect((await issued(t, coupon.id, 'u4')).remain).toBe(1);
      expect((await sync(t, coupon.id)).issue).toMatchObject({ remain: 1, ledger: 4, drift: 0 });
    });
  });
});
