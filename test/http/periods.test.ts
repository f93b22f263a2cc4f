/**
 * Period stocks through the HTTP API (Postgres gauge, a clock the test moves): "2 a day within 10
 * overall", each day starting afresh, in the service's time zone; a cancel gives back to its own
 * day; recovery rebuilds today's count from the ledger.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { couponKeys } from '../../src/coupon/keys.js';
import { PeriodClock } from '../../src/stock/periods.js';
import { CLIENT, testApp, type TestApp } from '../support/app.js';
import { createDraft, createLive, expectJson, expectProblem, issue, issued, live, use, used } from '../support/fixtures.js';

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(() => t.close());
afterEach(() => {
  t.setNow(null);
  t.deps.periods = undefined;
});

const DAY = 86_400_000;
const NOON = Date.parse('2026-12-02T12:00:00Z');

interface LiveWithPeriods {
  issue: { total: number; remain: number } | null;
  use: { total: number; remain: number } | null;
  issuePeriod?: { total: number; remain: number; period: string; label: string; resetsAt: string };
  usePeriod?: { total: number; remain: number; period: string; label: string; resetsAt: string };
}
const liveNow = (id: string) => live(t, id) as Promise<LiveWithPeriods>;

describe('period stocks', () => {
  it('caps each day within the overall stock, and starts afresh the next day', async () => {
    t.setNow(NOON);
    const coupon = await createLive(t, { issueStock: { total: 10 }, issuePeriodStock: { total: 2, period: 'day' } });
    expect(coupon).toMatchObject({ issuePeriodStock: { total: 2, period: 'day' }, usePeriodStock: null });
    await issued(t, coupon.id, 'a');
    await issued(t, coupon.id, 'b');
    const refused = await expectProblem(await issue(t, coupon.id, 'c'), 409, 'PERIOD_SOLD_OUT');
    expect(refused.detail).toBe('the issue stock of this day (2026-12-02) is sold out; it starts again at 2026-12-03T00:00:00.000Z');
    expect(await liveNow(coupon.id)).toEqual({
      issue: { total: 10, remain: 8 },
      use: null,
      issuePeriod: { total: 2, remain: 0, period: 'day', label: '2026-12-02', resetsAt: '2026-12-03T00:00:00.000Z' },
    });
    t.setNow(NOON + DAY);
    expect((await issued(t, coupon.id, 'c')).remain).toBe(7);
    expect((await liveNow(coupon.id)).issuePeriod).toMatchObject({ remain: 1, label: '2026-12-03' });
  });

  it('lets the overall stock end the sale before the day does', async () => {
    t.setNow(NOON);
    const coupon = await createLive(t, { issueStock: { total: 3 }, issuePeriodStock: { total: 2, period: 'day' } });
    await issued(t, coupon.id, 'a');
    await issued(t, coupon.id, 'b');
    t.setNow(NOON + DAY);
    await issued(t, coupon.id, 'c');
    await expectProblem(await issue(t, coupon.id, 'd'), 409, 'SOLD_OUT');
  });

  it('gives a cancelled issue back to its day', async () => {
    t.setNow(NOON);
    const coupon = await createLive(t, { issueStock: { total: 10 }, issuePeriodStock: { total: 2, period: 'day' } });
    const a = await issued(t, coupon.id, 'a');
    await issued(t, coupon.id, 'b');
    await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/issues/${a.issueId}/cancel`, { token: CLIENT }), 200);
    await issued(t, coupon.id, 'c');
    await expectProblem(await issue(t, coupon.id, 'd'), 409, 'PERIOD_SOLD_OUT');
  });

  it('caps uses per ISO week on a public code', async () => {
    t.setNow(Date.parse('2026-12-06T20:00:00Z')); // a Sunday
    const coupon = await createLive(t, { useStock: { total: 100 }, usePeriodStock: { total: 1, period: 'week' } });
    await used(t, coupon.id, 'u1');
    await expectProblem(await use(t, coupon.id, 'u2'), 409, 'PERIOD_SOLD_OUT');
    expect((await liveNow(coupon.id)).usePeriod).toEqual({ total: 1, remain: 0, period: 'week', label: '2026-W49', resetsAt: '2026-12-07T00:00:00.000Z' });
    t.setNow(Date.parse('2026-12-07T00:00:00Z')); // Monday: a new week
    await used(t, coupon.id, 'u2');
  });

  it('counts days in the configured time zone', async () => {
    t.deps.periods = new PeriodClock('Asia/Tokyo');
    t.setNow(Date.parse('2026-12-02T14:30:00Z')); // 23:30 in Tokyo
    const coupon = await createLive(t, { issueStock: { total: 10 }, issuePeriodStock: { total: 1, period: 'day' } });
    await issued(t, coupon.id, 'a');
    const refused = await expectProblem(await issue(t, coupon.id, 'b'), 409, 'PERIOD_SOLD_OUT');
    expect(refused.detail).toContain('(2026-12-02)');
    expect(refused.detail).toContain('2026-12-02T15:00:00.000Z');
    t.setNow(Date.parse('2026-12-02T15:00:00Z')); // midnight in Tokyo, still Dec 2 in UTC
    await issued(t, coupon.id, 'b');
  });

  it('rebuilds the current day from the ledger when the gauges are lost', async () => {
    t.setNow(NOON);
    const coupon = await createLive(t, { issueStock: { total: 10 }, issuePeriodStock: { total: 3, period: 'day' } });
    await issued(t, coupon.id, 'a');
    await issued(t, coupon.id, 'b');
    await t.deps.gauges.drop(couponKeys(coupon.id).prefix);
    await expectProblem(await issue(t, coupon.id, 'c'), 503, 'STOCK_UNAVAILABLE');
    await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/rebuild`), 200);
    expect((await liveNow(coupon.id)).issuePeriod).toMatchObject({ total: 3, remain: 1 });
    await issued(t, coupon.id, 'c');
    await expectProblem(await issue(t, coupon.id, 'd'), 409, 'PERIOD_SOLD_OUT');
  });

  it('validates period stocks, and edits them on drafts only', async () => {
    for (const bad of [{ total: 2, period: 'month' }, { total: -1, period: 'day' }, { total: 2 }, { period: 'day' }, { total: 1.5, period: 'week' }, { total: 2, period: 'day', extra: 1 }, 'day']) {
      await expectProblem(await t.call('POST', '/v1/coupons', { body: { name: 'p', issuePeriodStock: bad } }), 400, 'VALIDATION_FAILED');
    }
    const draft = await createDraft(t, { issueStock: { total: 5 } });
    const patched = await expectJson<Record<string, unknown>>(await t.call('PATCH', `/v1/coupons/${draft.id}`, { body: { usePeriodStock: { total: 4, period: 'week' } } }), 200);
    expect(patched).toMatchObject({ issuePeriodStock: null, usePeriodStock: { total: 4, period: 'week' } });
    const cleared = await expectJson<Record<string, unknown>>(await t.call('PATCH', `/v1/coupons/${draft.id}`, { body: { usePeriodStock: null } }), 200);
    expect(cleared).toMatchObject({ usePeriodStock: null });
    const confirmed = await createLive(t, { issueStock: { total: 5 } });
    await expectProblem(await t.call('PATCH', `/v1/coupons/${confirmed.id}`, { body: { issuePeriodStock: { total: 1, period: 'day' } } }), 409, 'NOT_EDITABLE');
  });
});

describe('periods on a day that skips midnight', () => {
  // America/Santiago, 2026-09-06: at 04:00Z the clocks go from 23:59:59 -04 on the 5th to 01:00 -03
  // on the 6th. The 5th has 24 hours up to 04:00Z; the 6th starts then and ends at 03:00Z on the 7th.
  const EVE_2230 = Date.parse('2026-09-06T02:30:00Z');
  const EVE_2330 = Date.parse('2026-09-06T03:30:00Z');
  const DAY_START = Date.parse('2026-09-06T04:00:00Z'); // 01:00 -03, the first instant of the 6th
  type Period = { total: number; remain: number; label: string; resetsAt: string };
  const dayCap = async (id: string) => ((await live(t, id)) as { issuePeriod?: Period }).issuePeriod;

  it('keeps the eve of a skipped midnight until 01:00, and says the skipped day starts again at the next midnight', async () => {
    t.deps.periods = new PeriodClock('America/Santiago');
    t.setNow(EVE_2330);
    const coupon = await createLive(t, { issueStock: { total: 10 }, issuePeriodStock: { total: 1, period: 'day' } });
    await issued(t, coupon.id, 'a');
    const eve = await expectProblem(await issue(t, coupon.id, 'b'), 409, 'PERIOD_SOLD_OUT');
    expect(eve.detail).toBe('the issue stock of this day (2026-09-05) is sold out; it starts again at 2026-09-06T04:00:00.000Z');
    expect(await dayCap(coupon.id)).toMatchObject({ remain: 0, label: '2026-09-05', resetsAt: '2026-09-06T04:00:00.000Z' });
    t.setNow(DAY_START - 1);
    await expectProblem(await issue(t, coupon.id, 'b'), 409, 'PERIOD_SOLD_OUT');
    t.setNow(DAY_START);
    await issued(t, coupon.id, 'b');
    t.setNow(DAY_START + 30 * 60_000); // 01:30 on the 6th: the cap of the 6th is reached
    const day = await expectProblem(await issue(t, coupon.id, 'c'), 409, 'PERIOD_SOLD_OUT');
    expect(day.detail).toBe('the issue stock of this day (2026-09-06) is sold out; it starts again at 2026-09-07T03:00:00.000Z');
    expect(await dayCap(coupon.id)).toMatchObject({ remain: 0, label: '2026-09-06', resetsAt: '2026-09-07T03:00:00.000Z' });
  });

  it('rebuilds the cap of the eve in its last hour, and of the skipped day in its first, from the takes of each', async () => {
    t.deps.periods = new PeriodClock('America/Santiago');
    t.setNow(EVE_2230);
    const coupon = await createLive(t, { issueStock: { total: 10 }, issuePeriodStock: { total: 2, period: 'day' } });
    await issued(t, coupon.id, 'a');
    t.setNow(EVE_2330);
    await issued(t, coupon.id, 'b'); // 23:30 on the 5th: the eve's cap is reached
    t.setNow(EVE_2330 + 15 * 60_000);
    await t.deps.gauges.drop(couponKeys(coupon.id).prefix);
    await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/rebuild`), 200);
    expect(await dayCap(coupon.id)).toMatchObject({ total: 2, remain: 0, label: '2026-09-05' });
    await expectProblem(await issue(t, coupon.id, 'c'), 409, 'PERIOD_SOLD_OUT');

    t.setNow(DAY_START + 10 * 60_000);
    await issued(t, coupon.id, 'c'); // 01:10 on the 6th
    t.setNow(DAY_START + 30 * 60_000);
    await t.deps.gauges.drop(couponKeys(coupon.id).prefix);
    await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/rebuild`), 200);
    expect(await dayCap(coupon.id)).toMatchObject({ total: 2, remain: 1, label: '2026-09-06' });
    await issued(t, coupon.id, 'd');
    await expectProblem(await issue(t, coupon.id, 'e'), 409, 'PERIOD_SOLD_OUT');
    expect((await live(t, coupon.id)).issue).toEqual({ total: 10, remain: 6 });
  });
});
