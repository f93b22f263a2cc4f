/**
 * Admin CRUD and the lifecycle (draft → confirmed ⇄ paused → archived) through the HTTP API.
 */
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import {
  at,
  createDraft,
  createLive,
  DAY,
  expectJson,
  expectProblem,
  getCoupon,
  issue,
  issued,
  live,
  UNKNOWN_COUPON,
  use,
  type CouponBody,
  type PageBody,
} from '../support/fixtures.js';

useTestApp('coupons', (t) => {

  const T0 = Date.parse('2026-06-01T00:00:00Z');

  describe('POST /v1/coupons', () => {
    it('creates a draft with every contract field', async () => {
      t.setNow(T0);
      const res = await t.call('POST', '/v1/coupons', {
        body: {
          name: 'Spring sale',
          issueStock: { total: 100 },
          useStock: null,
          budget: { total: 50_000, currency: 'EUR' },
          issuePeriodStock: { total: 10, period: 'day' },
          usePeriodStock: null,
          perUserIssueLimit: 2,
          perUserUseLimit: null,
          issueWindow: { start: '2026-06-01T00:00:00+09:00', end: null },
        },
      });
      const coupon = await expectJson<CouponBody>(res, 201);
      expect(coupon).toEqual({
        id: expect.stringMatching(/^cpn_[0-9a-z]{26}$/),
        name: 'Spring sale',
        status: 'draft',
        issueStock: { total: 100, remain: 100, syncedAt: null },
        useStock: null,
        budget: { total: 50_000, remain: 50_000, syncedAt: null, currency: 'EUR' },
        issuePeriodStock: { total: 10, period: 'day' },
        usePeriodStock: null,
        perUserIssueLimit: 2,
        perUserUseLimit: null,
        issueWindow: { start: '2026-05-31T15:00:00.000Z', end: null },
        useWindow: null,
        createdAt: at(T0),
        updatedAt: at(T0),
      });
      expect(await getCoupon(t, coupon.id)).toEqual(coupon);
    });

    it('treats absent stocks, limits and windows as unlimited / always open', async () => {
      const coupon = await createDraft(t, { name: 'bare' });
      expect(coupon).toMatchObject({ issueStock: null, useStock: null, perUserIssueLimit: null, perUserUseLimit: null, issueWindow: null, useWindow: null });
    });
  });

  describe('GET /v1/coupons', () => {
    it('pages newest first with nextCursor until null, without gaps or repeats', async () => {
      const mine = new Set<string>();
      for (let i = 0; i < 5; i++) {
        t.setNow(T0 + DAY + i * 1000);
        mine.add((await createDraft(t, { name: `page ${i}` })).id);
      }
      t.setNow(null);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
        const page: PageBody = await expectJson<PageBody>(await t.call('GET', `/v1/coupons${query}`), 200);
        expect(page.items.length).toBeLessThanOrEqual(2);
        if (page.nextCursor !== null) expect(page.items).toHaveLength(2);
        seen.push(...page.items.map((c) => c.id));
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor !== null && pages < 100);
      expect(cursor).toBeNull();
      expect(new Set(seen).size).toBe(seen.length);
      expect([...seen].sort().reverse()).toEqual(seen);
      for (const id of mine) expect(seen).toContain(id);
      const newest = await expectJson<PageBody>(await t.call('GET', '/v1/coupons?limit=100'), 200);
      expect(newest.items.map((c) => c.id)).toEqual(seen.slice(0, newest.items.length));
    });

    it('filters by status', async () => {
      const draft = await createDraft(t);
      const paused = await createLive(t, { issueStock: { total: 3 } });
      await expectJson(await t.call('POST', `/v1/coupons/${paused.id}/pause`), 200);
      const page = await expectJson<PageBody>(await t.call('GET', '/v1/coupons?status=paused'), 200);
      expect(page.items.length).toBeGreaterThan(0);
      expect(page.items.every((c) => c.status === 'paused')).toBe(true);
      const ids = page.items.map((c) => c.id);
      expect(ids).toContain(paused.id);
      expect(ids).not.toContain(draft.id);
      const listed = page.items.find((c) => c.id === paused.id);
      expect(listed?.issueStock).toEqual({ total: 3, remain: 3, syncedAt: expect.any(String) });
    });

    it('refuses a bad status, limit or cursor with 400', async () => {
      const problem = await expectProblem(await t.call('GET', '/v1/coupons?status=gone&limit=0'), 400, 'VALIDATION_FAILED');
      expect(problem.errors?.map((e) => e.path).sort()).toEqual(['query.limit', 'query.status']);
      await expectProblem(await t.call('GET', '/v1/coupons?limit=101'), 400, 'VALIDATION_FAILED');
      await expectProblem(await t.call('GET', `/v1/coupons?cursor=${'x'.repeat(65)}`), 400, 'VALIDATION_FAILED');
    });
  });

  describe('GET /v1/coupons/{id}', () => {
    it('answers 404 NOT_FOUND for an unknown id and for ids that cannot exist', async () => {
      for (const id of [UNKNOWN_COUPON, 'garbage', 'cpn_short', encodeURIComponent("' or 1=1 --"), 'CPN_0000000000ZZZZZZZZZZZZZZZZ']) {
        const problem = await expectProblem(await t.call('GET', `/v1/coupons/${id}`), 404, 'NOT_FOUND');
        expect(problem.type).toMatch(/not-found/);
      }
    });
  });

  describe('PATCH /v1/coupons/{id}', () => {
    it('changes a draft: present fields replace, null means unlimited, absent keeps', async () => {
      t.setNow(T0);
      const draft = await createDraft(t, {
        name: 'before',
        issueStock: { total: 10 },
        useStock: { total: 5 },
        perUserIssueLimit: 1,
        perUserUseLimit: 1,
        useWindow: { start: '2026-07-01T00:00:00Z', end: '2026-08-01T00:00:00Z' },
      });
      t.setNow(T0 + 60_000);
      const res = await t.call('PATCH', `/v1/coupons/${draft.id}`, {
        body: { name: 'after', issueStock: null, perUserIssueLimit: null, useStock: { total: 7 }, issueWindow: { start: null, end: '2026-09-01T00:00:00Z' } },
      });
      const patched = await expectJson<CouponBody>(res, 200);
      expect(patched).toEqual({
        ...draft,
        name: 'after',
        issueStock: null,
        perUserIssueLimit: null,
        useStock: { total: 7, remain: 7, syncedAt: null },
        issueWindow: { start: null, end: '2026-09-01T00:00:00.000Z' },
        updatedAt: at(T0 + 60_000),
      });
      expect(await getCoupon(t, draft.id)).toEqual(patched);
      const empty = await expectJson<CouponBody>(await t.call('PATCH', `/v1/coupons/${draft.id}`, { body: {} }), 200);
      expect({ ...empty, updatedAt: patched.updatedAt }).toEqual(patched);
    });

    it('refuses a live or archived coupon with 409 NOT_EDITABLE and changes nothing', async () => {
      const coupon = await createLive(t, { issueStock: { total: 4 } });
      await expectProblem(await t.call('PATCH', `/v1/coupons/${coupon.id}`, { body: { name: 'x' } }), 409, 'NOT_EDITABLE');
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/pause`), 200);
      await expectProblem(await t.call('PATCH', `/v1/coupons/${coupon.id}`, { body: { name: 'x' } }), 409, 'NOT_EDITABLE');
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
      await expectProblem(await t.call('PATCH', `/v1/coupons/${coupon.id}`, { body: { name: 'x' } }), 409, 'NOT_EDITABLE');
      expect((await getCoupon(t, coupon.id)).name).toBe('test coupon');
    });

    it('answers 404 for an unknown coupon and 400 for a bad body', async () => {
      await expectProblem(await t.call('PATCH', `/v1/coupons/${UNKNOWN_COUPON}`, { body: { name: 'x' } }), 404, 'NOT_FOUND');
      await expectProblem(await t.call('PATCH', '/v1/coupons/garbage', { body: { name: 'x' } }), 404, 'NOT_FOUND');
      const draft = await createDraft(t);
      await expectProblem(await t.call('PATCH', `/v1/coupons/${draft.id}`, { body: { name: null } }), 400, 'VALIDATION_FAILED');
      await expectProblem(await t.call('PATCH', `/v1/coupons/${draft.id}`, { body: { status: 'confirmed' } }), 400, 'VALIDATION_FAILED');
      expect(await getCoupon(t, draft.id)).toEqual(draft);
    });
  });

  describe('DELETE /v1/coupons/{id}', () => {
    it('deletes a draft with 204, then it is gone', async () => {
      const draft = await createDraft(t);
      const res = await t.call('DELETE', `/v1/coupons/${draft.id}`);
      expect(res.status).toBe(204);
      expect(await res.text()).toBe('');
      await expectProblem(await t.call('GET', `/v1/coupons/${draft.id}`), 404, 'NOT_FOUND');
      await expectProblem(await t.call('DELETE', `/v1/coupons/${draft.id}`), 404, 'NOT_FOUND');
    });

    it('refuses a confirmed coupon with 409 NOT_EDITABLE; unknown ids are 404', async () => {
      const coupon = await createLive(t);
      await expectProblem(await t.call('DELETE', `/v1/coupons/${coupon.id}`), 409, 'NOT_EDITABLE');
      expect((await getCoupon(t, coupon.id)).status).toBe('confirmed');
      await expectProblem(await t.call('DELETE', `/v1/coupons/${UNKNOWN_COUPON}`), 404, 'NOT_FOUND');
      await expectProblem(await t.call('DELETE', '/v1/coupons/nope'), 404, 'NOT_FOUND');
    });
  });

  describe('POST /v1/coupons/{id}/confirm', () => {
    it('persists the stocks with remain = total and is idempotent', async () => {
      const draft = await createDraft(t, { issueStock: { total: 5 }, useStock: { total: 9 } });
      const confirmed = await expectJson<CouponBody>(await t.call('POST', `/v1/coupons/${draft.id}/confirm`), 200);
      expect(confirmed.status).toBe('confirmed');
      expect(confirmed.issueStock).toEqual({ total: 5, remain: 5, syncedAt: expect.any(String) });
      expect(confirmed.useStock).toEqual({ total: 9, remain: 9, syncedAt: expect.any(String) });
      expect(await live(t, draft.id)).toEqual({ issue: { total: 5, remain: 5 }, use: { total: 9, remain: 9 } });
      await issued(t, draft.id, 'u1');
      const again = await expectJson<CouponBody>(await t.call('POST', `/v1/coupons/${draft.id}/confirm`), 200);
      expect(again.status).toBe('confirmed');
      expect((await live(t, draft.id)).issue).toEqual({ total: 5, remain: 4 });
    });

    it('refuses an archived coupon with 409; unknown is 404', async () => {
      const coupon = await createLive(t);
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
      const problem = await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/confirm`), 409, 'INVALID_STATE');
      expect(problem.detail).toMatch(/archived/);
      expect((await getCoupon(t, coupon.id)).status).toBe('archived');
      await expectProblem(await t.call('POST', `/v1/coupons/${UNKNOWN_COUPON}/confirm`), 404, 'NOT_FOUND');
    });
  });

  describe('pause and resume', () => {
    it('refuses issue and use with 409 NOT_ACTIVE while paused and allows them after resume', async () => {
      const coupon = await createLive(t, { issueStock: { total: 10 } });
      await issued(t, coupon.id, 'holder');
      const paused = await expectJson<CouponBody>(await t.call('POST', `/v1/coupons/${coupon.id}/pause`), 200);
      expect(paused.status).toBe('paused');
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/pause`), 200);
      await expectProblem(await issue(t, coupon.id, 'u2'), 409, 'NOT_ACTIVE');
      await expectProblem(await use(t, coupon.id, 'holder'), 409, 'NOT_ACTIVE');
      expect((await live(t, coupon.id)).issue).toEqual({ total: 10, remain: 9 });
      const resumed = await expectJson<CouponBody>(await t.call('POST', `/v1/coupons/${coupon.id}/resume`), 200);
      expect(resumed.status).toBe('confirmed');
      await issued(t, coupon.id, 'u2');
      await expectJson(await use(t, coupon.id, 'holder'), 201);
    });

    it('refuses drafts and archived coupons with 409; unknown is 404', async () => {
      const draft = await createDraft(t);
      await expectProblem(await t.call('POST', `/v1/coupons/${draft.id}/pause`), 409, 'INVALID_STATE');
      await expectProblem(await t.call('POST', `/v1/coupons/${draft.id}/resume`), 409, 'INVALID_STATE');
      const archived = await createLive(t);
      await expectJson(await t.call('POST', `/v1/coupons/${archived.id}/archive`), 200);
      await expectProblem(await t.call('POST', `/v1/coupons/${archived.id}/pause`), 409, 'INVALID_STATE');
      await expectProblem(await t.call('POST', `/v1/coupons/${archived.id}/resume`), 409, 'INVALID_STATE');
      expect((await getCoupon(t, draft.id)).status).toBe('draft');
      await expectProblem(await t.call('POST', `/v1/coupons/${UNKNOWN_COUPON}/pause`), 404, 'NOT_FOUND');
      await expectProblem(await t.call('POST', `/v1/coupons/${UNKNOWN_COUPON}/resume`), 404, 'NOT_FOUND');
    });
  });
});
