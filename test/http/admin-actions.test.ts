/**
 * Every admin page action through `app.request()`, as a browser would post it (the CSRF token
 * read from the rendered form), its effect checked through the JSON API, and the error flash
 * each refusal leaves on the page.
 */
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { AdminSecrets } from '../../src/http/admin/secrets.js';
import { ADMIN, useTestApp } from '../support/app.js';
import { act, cell, csrfFor, flashOf, follow, login, pageHtml, shownStatus, submit } from '../support/admin-page.js';
import { createDraft, createLive, expectJson, expectProblem, getCoupon, issued, live, loseGauges, type CouponBody, type PageBody } from '../support/fixtures.js';

useTestApp('admin-actions', (t) => {
  let cookie: string;
  beforeAll(async () => {
    cookie = await login(t);
  });

  /** Posts an action whose button the page does not show (the token is per action and session). */
  async function forcePost(path: string, action: string, fields: Record<string, string> = {}): Promise<string> {
    const sessionId = (cookie.split('=')[1] ?? '').split('.')[0] ?? '';
    const csrf = await new AdminSecrets(ADMIN).csrf(sessionId, action);
    return follow(t, cookie, await submit(t, cookie, path, { csrf, ...fields }));
  }

  /** The coupon a create form made, named by the flash it left (no other test's coupon can be taken for it). */
  const createdBy = async (html: string): Promise<CouponBody> => {
    const flash = flashOf(html);
    expect(flash).toMatchObject({ kind: 'ok' });
    const id = /cpn_[0-9a-z]{26}/.exec(flash?.text ?? '')?.[0];
    if (!id) throw new Error(`no coupon id in the flash: ${flash?.text ?? '(none)'}`);
    return getCoupon(t, id);
  };

  /** Every coupon id there is, all pages. */
  const allIds = async (): Promise<string[]> => {
    const ids: string[] = [];
    for (let cursor: string | null = null, first = true; first || cursor !== null; first = false) {
      const page: PageBody = await expectJson<PageBody>(await t.call('GET', `/v1/coupons?limit=100${cursor ? `&cursor=${cursor}` : ''}`), 200);
      ids.push(...page.items.map((c) => c.id));
      cursor = page.nextCursor;
    }
    return ids;
  };

  describe('create', () => {
    it('creates a draft from every field of the form (windows in UTC)', async () => {
      const html = await act(t, cookie, '/admin/coupons', {
        name: 'Spring sale',
        issueTotal: '10',
        useTotal: '8',
        perUserIssueLimit: '2',
        perUserUseLimit: '1',
        issueStart: '2030-03-01T09:00',
        issueEnd: '2030-03-31T18:30',
        useStart: '',
        useEnd: '2030-04-30T00:00',
      });
      const coupon = await createdBy(html);
      expect(coupon).toMatchObject({
        name: 'Spring sale',
        status: 'draft',
        issueStock: { total: 10 },
        useStock: { total: 8 },
        perUserIssueLimit: 2,
        perUserUseLimit: 1,
        issueWindow: { start: '2030-03-01T09:00:00.000Z', end: '2030-03-31T18:30:00.000Z' },
        useWindow: { start: null, end: '2030-04-30T00:00:00.000Z' },
      });
      expect(html).toContain('2030-03-01 09:00 UTC → 2030-03-31 18:30 UTC');
      expect(shownStatus(html, coupon.id)).toBe('draft');
    });

    it('creates an unlimited public code when the optional fields are empty', async () => {
      const html = await act(t, cookie, '/admin/coupons', { name: 'Public code', issueTotal: '', useTotal: '' });
      expect(await createdBy(html)).toMatchObject({ name: 'Public code', issueStock: null, useStock: null, perUserIssueLimit: null, issueWindow: null });
    });

    it('lists every problem of a bad form (VALIDATION_FAILED) and creates nothing', async () => {
      const before = await allIds();
      const html = await act(t, cookie, '/admin/coupons', {
        name: '',
        issueTotal: 'ten',
        perUserUseLimit: '0',
        issueStart: '2030-03-02T00:00',
        issueEnd: '2030-03-01T00:00',
        useStart: 'tomorrow',
      });
      expect(flashOf(html)).toMatchObject({ kind: 'error', code: 'VALIDATION_FAILED' });
      for (const path of ['name', 'issueTotal', 'perUserUseLimit', 'issueEnd', 'useStart']) expect(html).toContain(`<code>${path}</code>`);
      expect(await allIds()).toEqual(before);
    });
  });

  describe('the lifecycle and live numbers', () => {
    it('confirm, issue through the API, Refresh: synced and live remain 7, drift 0', async () => {
      const draft = await createDraft(t, { name: 'Flash sale', issueStock: { total: 10 } });
      const confirmed = await act(t, cookie, `/admin/coupons/${draft.id}/confirm`);
      expect(flashOf(confirmed)).toMatchObject({ kind: 'ok' });
      expect((await getCoupon(t, draft.id)).status).toBe('confirmed');
      expect(cell(confirmed, draft.id, 'issue', 'live')).toBe('10');
      expect(cell(confirmed, draft.id, 'issue', 'drift')).toBe('—');
      for (const user of ['ann', 'bob', 'cy']) await issued(t, draft.id, user);
      const before = await pageHtml(t, cookie);
      expect(cell(before, draft.id, 'issue', 'live')).toBe('7');
      expect(cell(before, draft.id, 'issue', 'synced')).toBe('10');
      const refreshed = await act(t, cookie, `/admin/coupons/${draft.id}/sync`);
      expect(flashOf(refreshed)?.text).toContain('issue: 7 left, ledger 3, drift 0');
      expect(cell(refreshed, draft.id, 'issue', 'synced')).toBe('7');
      expect(cell(refreshed, draft.id, 'issue', 'live')).toBe('7');
      expect(cell(refreshed, draft.id, 'issue', 'drift')).toBe('0');
      expect(cell(refreshed, draft.id, 'issue', 'pct')).toBe('70%');
      expect((await getCoupon(t, draft.id)).issueStock).toMatchObject({ total: 10, remain: 7 });
    });

    it('pause and resume change the status and the takes', async () => {
      const coupon = await createLive(t, { issueStock: { total: 5 } });
      const paused = await act(t, cookie, `/admin/coupons/${coupon.id}/pause`);
      expect(shownStatus(paused, coupon.id)).toBe('paused');
      expect((await getCoupon(t, coupon.id)).status).toBe('paused');
      const resumed = await act(t, cookie, `/admin/coupons/${coupon.id}/resume`);
      expect(shownStatus(resumed, coupon.id)).toBe('confirmed');
      await issued(t, coupon.id, 'dee');
    });

    it('adjusts a live limit, and refuses one that would go below zero (BELOW_ZERO) or a bad delta', async () => {
      const coupon = await createLive(t, { issueStock: { total: 5 }, useStock: { total: 3 } });
      const raised = await act(t, cookie, `/admin/coupons/${coupon.id}/adjust`, { stock: 'issue', delta: '+5' });
      expect(flashOf(raised)?.text).toContain('total 10, 10 left');
      expect(await live(t, coupon.id)).toMatchObject({ issue: { total: 10, remain: 10 }, use: { total: 3, remain: 3 } });
      const below = await act(t, cookie, `/admin/coupons/${coupon.id}/adjust`, { stock: 'use', delta: '-4' });
      expect(flashOf(below)).toMatchObject({ kind: 'error', code: 'BELOW_ZERO' });
      expect(flashOf(below)?.text).toContain('below zero');
      const bad = await act(t, cookie, `/admin/coupons/${coupon.id}/adjust`, { stock: 'gift', delta: '0' });
      expect(flashOf(bad)).toMatchObject({ kind: 'error', code: 'VALIDATION_FAILED' });
      expect(bad).toContain('<code>stock</code>');
      expect(bad).toContain('<code>delta</code>');
      expect(await live(t, coupon.id)).toMatchObject({ use: { total: 3, remain: 3 } });
    });

    it('shows a lost gauge as unavailable, and Rebuild restores it from the ledger', async () => {
      const coupon = await createLive(t, { issueStock: { total: 4 } });
      await issued(t, coupon.id, 'eve');
      await loseGauges(t, coupon.id);
      expect(cell(await pageHtml(t, cookie), coupon.id, 'issue', 'live')).toBe('unavailable');
      const rebuilt = await act(t, cookie, `/admin/coupons/${coupon.id}/rebuild`);
      expect(flashOf(rebuilt)).toMatchObject({ kind: 'ok' });
      expect(cell(rebuilt, coupon.id, 'issue', 'live')).toBe('3');
      expect(await live(t, coupon.id)).toMatchObject({ issue: { total: 4, remain: 3 } });
    });

    it('archives a live coupon and deletes a draft', async () => {
      const coupon = await createLive(t, { issueStock: { total: 2 } });
      const archived = await act(t, cookie, `/admin/coupons/${coupon.id}/archive`);
      expect(shownStatus(archived, coupon.id)).toBe('archived');
      expect((await getCoupon(t, coupon.id)).status).toBe('archived');
      const draft = await createDraft(t);
      await act(t, cookie, `/admin/coupons/${draft.id}/delete`);
      await expectProblem(await t.call('GET', `/v1/coupons/${draft.id}`), 404, 'NOT_FOUND');
    });
  });

  describe('refusals as error flashes', () => {
    it('names the problem code and says what to do', async () => {
      const draft = await createDraft(t);
      const liveOne = await createLive(t, { issueStock: { total: 1 } });
      const archived = await createLive(t);
      await t.call('POST', `/v1/coupons/${archived.id}/archive`);
      const cases: [string, string, string][] = [
        [`/admin/coupons/${draft.id}/pause`, 'pause', 'INVALID_STATE'],
        [`/admin/coupons/${archived.id}/confirm`, 'confirm', 'INVALID_STATE'],
        [`/admin/coupons/${liveOne.id}/delete`, 'delete', 'NOT_EDITABLE'],
        [`/admin/coupons/${draft.id}/sync`, 'sync', 'NOT_ACTIVE'],
        ['/admin/coupons/cpn_0000000000zzzzzzzzzzzzzzzz/confirm', 'confirm', 'NOT_FOUND'],
        ['/admin/coupons/not-an-id/archive', 'archive', 'NOT_FOUND'],
      ];
      for (const [path, action, code] of cases) {
        const html = await forcePost(path, action);
        expect(flashOf(html), path).toMatchObject({ kind: 'error', code });
      }
      expect((await getCoupon(t, draft.id)).status).toBe('draft');
      expect((await getCoupon(t, liveOne.id)).status).toBe('confirmed');
    });

    it('shows an archived coupon read-only, with no action forms', async () => {
      const coupon = await createLive(t, { issueStock: { total: 3 } });
      await t.call('POST', `/v1/coupons/${coupon.id}/archive`);
      const html = await pageHtml(t, cookie);
      expect(() => csrfFor(html, `/admin/coupons/${coupon.id}/pause`)).toThrow();
      expect(cell(html, coupon.id, 'issue', 'synced')).toBe('3');
    });
  });

  describe('issue to users', () => {
    it('issues a confirmed coupon to a list of users, reports refusals, and issues once when the form is sent twice', async () => {
      const coupon = await createLive(t, { issueStock: { total: 4 }, perUserIssueLimit: 1 });
      const page = await pageHtml(t, cookie);
      const path = `/admin/coupons/${coupon.id}/issue`;
      const form = page.split('<form').find((f) => f.includes(`action="${path}"`)) ?? '';
      const key = /name="key" value="([^"]+)"/.exec(form)?.[1] ?? '';
      expect(key).toMatch(/^admin-[0-9a-f-]{36}$/);
      const fields = { csrf: csrfFor(page, path), key, userIds: 'ann\r\nben, cat\n\nann\ndan\neve' };
      const html = await follow(t, cookie, await submit(t, cookie, path, fields));
      expect(flashOf(html)).toMatchObject({ kind: 'ok' });
      expect(flashOf(html)?.text).toBe(`Issued ${coupon.id} to 4 of 6 users; refused: 1 USER_LIMIT_REACHED, 1 SOLD_OUT.`);
      expect(await live(t, coupon.id)).toEqual({ issue: { total: 4, remain: 0 }, use: null });
      // The same form again (a reload, a double click): replayed, nothing more taken.
      // Refusals are not remembered, only evaluated again: the stock is gone, so both say SOLD_OUT now.
      const again = await follow(t, cookie, await submit(t, cookie, path, fields));
      expect(flashOf(again)?.text).toBe(`Issued ${coupon.id} to 4 of 6 users; refused: 2 SOLD_OUT.`);
      expect((await getCoupon(t, coupon.id)).issueStock).toMatchObject({ total: 4 });
      expect(await live(t, coupon.id)).toEqual({ issue: { total: 4, remain: 0 }, use: null });
    });

    it('shows the form only on confirmed coupons, and refuses an empty or invalid list naming the line', async () => {
      const draft = await createDraft(t, { issueStock: { total: 3 } });
      const coupon = await createLive(t, { issueStock: { total: 3 } });
      const page = await pageHtml(t, cookie);
      expect(page).not.toContain(`action="/admin/coupons/${draft.id}/issue"`);
      const path = `/admin/coupons/${coupon.id}/issue`;
      const empty = await follow(t, cookie, await submit(t, cookie, path, { csrf: csrfFor(page, path), userIds: ' \n ' }));
      expect(flashOf(empty)).toMatchObject({ kind: 'error', code: 'VALIDATION_FAILED' });
      const bad = await follow(t, cookie, await submit(t, cookie, path, { csrf: csrfFor(page, path), userIds: `ok\n${'x'.repeat(129)}` }));
      expect(flashOf(bad)).toMatchObject({ kind: 'error', code: 'VALIDATION_FAILED' });
      expect(bad).toContain('userIds line 2');
      expect(await live(t, coupon.id)).toEqual({ issue: { total: 3, remain: 3 }, use: null });
    });
  });

  describe('period stocks on the page', () => {
    it('creates a coupon with period caps from the form and shows what is left of today', async () => {
      // Noon of tomorrow: no midnight mid-test.
      const noon = new Date(Date.now() + 86_400_000);
      noon.setUTCHours(12, 0, 0, 0);
      t.setNow(noon.getTime());
      onTestFinished(() => t.setNow(null));
      const created = await act(t, cookie, '/admin/coupons', { name: 'Daily drop', issueTotal: '100', issuePeriodTotal: '5', issuePeriod: 'day', usePeriodTotal: '3', usePeriod: 'week' });
      const coupon = await createdBy(created);
      expect(coupon).toMatchObject({ name: 'Daily drop', issuePeriodStock: { total: 5, period: 'day' }, usePeriodStock: { total: 3, period: 'week' } });
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/confirm`), 200);
      for (const user of ['p1', 'p2']) await issued(t, coupon.id, user);
      const html = await pageHtml(t, cookie);
      const card = html.slice(html.indexOf(`data-coupon="${coupon.id}"`));
      expect(card).toContain('issue: 5 a day, use: 3 a week');
      const today = noon.toISOString().slice(0, 10);
      const row = card.slice(card.indexOf('data-stock="issue-period"'), card.indexOf('</tr>', card.indexOf('data-stock="issue-period"')));
      expect(row).toContain(`issue this day (${today})`);
      expect(/data-field="live"[^>]*>3</.test(row)).toBe(true);
    });

    it('refuses a bad period in the form, naming the field', async () => {
      const before = await allIds();
      const html = await act(t, cookie, '/admin/coupons', { name: 'Bad', issuePeriodTotal: '5', issuePeriod: 'month' });
      expect(flashOf(html)).toMatchObject({ kind: 'error', code: 'VALIDATION_FAILED' });
      // The flash lists the field it refused (the form itself always renders an issuePeriod field).
      expect(html).toContain('<code>issuePeriod</code> must be day or week');
      expect(html).not.toContain('<code>issuePeriodTotal</code>');
      expect(await allIds()).toEqual(before);
    });
  });

  describe('budgets on the page', () => {
    it('creates a budgeted coupon from the form, shows the budget, and adjusts it', async () => {
      const html = await act(t, cookie, '/admin/coupons', { name: 'Budgeted', useTotal: '50', budgetTotal: '10000', budgetCurrency: 'eur' });
      const coupon = await createdBy(html);
      expect(coupon.budget).toMatchObject({ total: 10_000, currency: 'EUR' });
      const id = coupon.id;
      await expectJson(await t.call('POST', `/v1/coupons/${id}/confirm`), 200);
      await expectJson(await t.call('POST', `/v1/coupons/${id}/uses`, { body: { userId: 'b1', discountAmount: 2_500 } }), 201);
      const page = await pageHtml(t, cookie);
      expect(cell(page, id, 'budget', 'live')).toBe('7500');
      expect(page).toContain('budget (EUR, minor units)');
      const adjusted = await act(t, cookie, `/admin/coupons/${id}/adjust`, { stock: 'budget', delta: '-500' });
      expect(flashOf(adjusted)?.text).toContain('Adjusted the budget limit');
      expect(await live(t, id)).toMatchObject({ budget: { total: 9_500, remain: 7_000 } });
    });
  });
});
