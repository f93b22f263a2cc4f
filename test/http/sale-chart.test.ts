/**
 * The sale chart on the admin page through `app.request()`, on both gauge configurations: a
 * scripted sale over three minutes of the test clock, then the chart's points (read from its
 * data attributes) against what the sale did; the archived coupon keeps its chart; the opt-in
 * live view is a meta refresh, and the CSP is unchanged.
 */
import { describe, expect, it } from 'vitest';
import { ADMIN, useTestApp, type TestApp } from '../support/app.js';
import { createDraft, createLive, expectJson, expectProblem, issue, issued } from '../support/fixtures.js';

const MINUTE = 60_000;
const CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

interface ChartPoint {
  minute: string;
  takes: number;
  refusals: number;
  restores: number;
  remain: number | null;
}

/** The points of one coupon's chart of `kind`, as the page renders them. */
function chartPoints(html: string, couponId: string, kind: 'issue' | 'use'): ChartPoint[] | null {
  const section = html.split(`data-coupon="${couponId}"`)[1]?.split('</section>')[0] ?? '';
  const figure = section.split(`data-chart="${kind}"`)[1]?.split('</figure>')[0];
  if (figure === undefined) return null;
  const points = [...figure.matchAll(/<g class="point" data-minute="([^"]+)" data-takes="(\d+)" data-refusals="(\d+)" data-restores="(\d+)"(?: data-remain="(-?\d+)")?>/g)];
  return points.map((m) => ({ minute: m[1] ?? '', takes: Number(m[2]), refusals: Number(m[3]), restores: Number(m[4]), remain: m[5] === undefined ? null : Number(m[5]) }));
}

const adminPage = async (t: TestApp, query = '') => {
  const res = await t.call('GET', `/admin${query}`, { token: ADMIN });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-security-policy')).toBe(CSP);
  return res.text();
};

useTestApp('sale chart on the admin page', (t) => {
  it('charts takes, refusals, cancels and what was left per minute of a sale, from the ledger', async () => {
    // Three whole minutes a little ahead of the real clock (Redis expiries stay in the future).
    const m0 = Math.ceil(Date.now() / MINUTE) * MINUTE;
    t.setNow(m0 + 5_000);
    try {
      const coupon = await createLive(t, { name: 'Chart sale', issueStock: { total: 3 }, perUserIssueLimit: 1 });
      t.setNow(m0 + 10_000);
      const ann = await issued(t, coupon.id, 'ann');
      await issued(t, coupon.id, 'bob');
      await expectProblem(await issue(t, coupon.id, 'ann'), 409, 'USER_LIMIT_REACHED');
      t.setNow(m0 + MINUTE + 5_000);
      await issued(t, coupon.id, 'cy');
      await expectProblem(await issue(t, coupon.id, 'dee'), 409, 'SOLD_OUT');
      await expectProblem(await issue(t, coupon.id, 'eve'), 409, 'SOLD_OUT');
      t.setNow(m0 + MINUTE + 20_000);
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/issues/${ann.issueId}/cancel`), 200);
      t.setNow(m0 + 2 * MINUTE + 1_000);
      await issued(t, coupon.id, 'fay');
      await expectProblem(await issue(t, coupon.id, 'gus'), 409, 'SOLD_OUT');
      // A validation failure is not a refusal of the sale's rules: not charted.
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/issues`, { token: ADMIN, body: {} }), 400, 'VALIDATION_FAILED');
      await t.settle();

      t.setNow(m0 + 2 * MINUTE + 30_000);
      const html = await adminPage(t);
      const minute = (n: number) => new Date(m0 + n * MINUTE).toISOString();
      expect(chartPoints(html, coupon.id, 'issue')).toEqual([
        { minute: minute(0), takes: 2, refusals: 1, restores: 0, remain: 1 },
        { minute: minute(1), takes: 1, refusals: 2, restores: 1, remain: 1 },
        { minute: minute(2), takes: 1, refusals: 1, restores: 0, remain: 0 },
      ]);
      expect(chartPoints(html, coupon.id, 'use')).toBeNull();
      expect(html).toContain(`aria-labelledby="chart-${coupon.id}-issue-title chart-${coupon.id}-issue-desc"`);
      expect(html).toContain('4 issued, 4 refused, 1 cancelled; 0 of 3 left.');
      expect(html).not.toContain('<script');
      expect(html).not.toContain('http-equiv="refresh"');

      // Archived: the chart stays, ending at the archival, hours later too.
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
      t.setNow(m0 + 5 * 60 * MINUTE);
      const later = await adminPage(t);
      expect(later).toMatch(new RegExp(`data-coupon="${coupon.id}" data-status="archived"`));
      expect(chartPoints(later, coupon.id, 'issue')).toEqual(chartPoints(html, coupon.id, 'issue'));
    } finally {
      t.setNow(null);
    }
  });

  it('shows a quiet live coupon as such and no chart for a draft', async () => {
    const quiet = await createLive(t, { name: 'Quiet', issueStock: { total: 5 } });
    const draft = await createDraft(t, { name: 'Draft', issueStock: { total: 5 } });
    const html = await adminPage(t);
    const card = (id: string) => html.split(`data-coupon="${id}"`)[1]?.split('</section>')[0] ?? '';
    expect(card(quiet.id)).toContain('data-chart="quiet"');
    expect(card(draft.id)).not.toContain('data-chart');
  });

  it('reloads every 5 s only when live view is on, keeping the filter; no script either way', async () => {
    const off = await adminPage(t, '?status=confirmed');
    expect(off).not.toContain('http-equiv="refresh"');
    expect(off).toContain('href="/admin?status=confirmed&amp;live=1"');
    const on = await adminPage(t, '?status=confirmed&live=1');
    expect(on).toContain('<meta http-equiv="refresh" content="5"/>');
    expect(on).toContain('data-live="on"');
    expect(on).toContain('href="/admin?status=confirmed"');
    expect(on).toContain('<input type="hidden" name="live" value="1"/>');
    expect(on).not.toContain('<script');
  });
});

describe('chartPoints', () => {
  it('reads nothing from a page without the coupon', () => {
    expect(chartPoints('<html></html>', 'cpn_x', 'issue')).toBeNull();
  });
});
