/**
 * Period stocks through the HTTP API (Postgres gauge, a clock the test moves): "2 a day within 10
 * overall", each day starting afresh, in the service's time zone; a cancel gives back to its own
 * day; recovery rebuilds today's count from the ledger.
 */
import { describe, expect, it } from 'vitest';
import { PeriodClock } from '../../src/stock/periods.js';
import { CLIENT, useTestApp } from '../support/app.js';
import { createDraft, createLive, expectJson, expectProblem, issue, issued, live, loseGauges, use, used } from '../support/fixtures.js';

useTestApp('periods', (t) => {

  const DAY = 86_400_000;
  // Dates ahead of the real clock: on Redis a period's gauge expires by Redis' own clock, so a
  // day the test set in the past would be gone at once. Noon UTC of tomorrow, and its labels.
  const midnight = (ms: number) => ms - (ms % DAY);
  const NOON = midnight(Date.now()) + DAY + 12 * 3_600_000;
  const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const startOf = (ms: number) => new Date(midnight(ms)).toISOString();
  /** The next Sunday 20:00 UTC at least a day ahead, and the ISO week it ends. */
  const SUNDAY_EVENING = (() => {
    const day = midnight(Date.now()) + DAY;
    return day + ((7 - new Date(day).getUTCDay()) % 7) * DAY + 20 * 3_600_000;
  })();
  /** ISO 8601 week label (`2026-W49`): the week of the Thursday of that week. */
  const isoWeek = (ms: number) => {
    const thursday = midnight(ms) + (3 - ((new Date(ms).getUTCDay() + 6) % 7)) * DAY;
    const year = new Date(thursday).getUTCFullYear();
    const week = Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * DAY)) + 1;
    return `${year}-W${String(week).padStart(2, '0')}`;
  };

  const liveNow = (id: string) => live(t, id);

  describe('period stocks', () => {
    it('caps each day within the overall stock, and starts afresh the next day', async () => {
      t.setNow(NOON);
      const coupon = await createLive(t, { issueStock: { total: 10 }, issuePeriodStock: { total: 2, period: 'day' } });
      expect(coupon).toMatchObject({ issuePeriodStock: { total: 2, period: 'day' }, usePeriodStock: null });
      await issued(t, coupon.id, 'a');
      await issued(t, coupon.id, 'b');
      const refused = await expectProblem(await issue(t, coupon.id, 'c'), 409, 'PERIOD_SOLD_OUT');
      expect(refused.detail).toBe(`the issue stock of this day (${dayOf(NOON)}) is sold out; it starts again at ${startOf(NOON + DAY)}`);
      expect(await liveNow(coupon.id)).toEqual({
        issue: { total: 10, remain: 8 },
        use: null,
        issuePeriod: { total: 2, remain: 0, period: 'day', label: dayOf(NOON), resetsAt: startOf(NOON + DAY) },
      });
      t.setNow(NOON + DAY);
      expect((await issued(t, coupon.id, 'c')).remain).toBe(7);
      expect((await liveNow(coupon.id)).issuePeriod).toMatchObject({ remain: 1, label: dayOf(NOON + DAY) });
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
      t.setNow(SUNDAY_EVENING);
      const monday = midnight(SUNDAY_EVENING) + DAY;
      const coupon = await createLive(t, { useStock: { total: 100 }, usePeriodStock: { total: 1, period: 'week' } });
      await used(t, coupon.id, 'u1');
      await expectProblem(await use(t, coupon.id, 'u2'), 409, 'PERIOD_SOLD_OUT');
      expect((await liveNow(coupon.id)).usePeriod).toEqual({ total: 1, remain: 0, period: 'week', label: isoWeek(SUNDAY_EVENING), resetsAt: startOf(monday) });
      expect(isoWeek(monday)).not.toBe(isoWeek(SUNDAY_EVENING));
      t.setNow(monday); // a new week
      await used(t, coupon.id, 'u2');
    });

    it('counts days in the configured time zone', async () => {
      t.deps.periods = new PeriodClock('Asia/Tokyo');
      const tokyoMidnight = midnight(NOON) + 15 * 3_600_000; // 00:00 in Tokyo (UTC+9) of the next day
      t.setNow(tokyoMidnight - 30 * 60_000); // 23:30 in Tokyo
      const coupon = await createLive(t, { issueStock: { total: 10 }, issuePeriodStock: { total: 1, period: 'day' } });
      await issued(t, coupon.id, 'a');
      const refused = await expectProblem(await issue(t, coupon.id, 'b'), 409, 'PERIOD_SOLD_OUT');
      expect(refused.detail).toContain(`(${dayOf(NOON)})`);
      expect(refused.detail).toContain(new Date(tokyoMidnight).toISOString());
      t.setNow(tokyoMidnight); // midnight in Tokyo, still the same day in UTC
      await issued(t, coupon.id, 'b');
    });

    it('rebuilds the current day from the ledger when the gauges are lost', async () => {
      t.setNow(NOON);
      const coupon = await createLive(t, { issueStock: { total: 10 }, issuePeriodStock: { total: 3, period: 'day' } });
      await issued(t, coupon.id, 'a');
      await issued(t, coupon.id, 'b');
      await loseGauges(t, coupon.id);
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
});

// On the Postgres gauge only: Redis expires a period's gauge on its own clock, which a test cannot
// move back to 2026-09 (a gauge made there is gone at once and reads as lost). The periods are
// the same domain code on both gauges.
useTestApp('periods on a day that skips midnight', (t) => {

  // America/Santiago, 2026-09-06: at 04:00Z the clocks go from 23:59:59 -04 on the 5th to 01:00 -03
  // on the 6th. The 5th has 24 hours up to 04:00Z; the 6th starts then and ends at 03:00Z on the 7th.
  const EVE_2230 = Date.parse('2026-09-06T02:30:00Z');
  const EVE_2330 = Date.parse('2026-09-06T03:30:00Z');
  const DAY_START = Date.parse('2026-09-06T04:00:00Z'); // 01:00 -03, the first instant of the 6th
  const dayCap = async (id: string) => (await live(t, id)).issuePeriod;

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
    await loseGauges(t, coupon.id);
    await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/rebuild`), 200);
    expect(await dayCap(coupon.id)).toMatchObject({ total: 2, remain: 0, label: '2026-09-05' });
    await expectProblem(await issue(t, coupon.id, 'c'), 409, 'PERIOD_SOLD_OUT');

    t.setNow(DAY_START + 10 * 60_000);
    await issued(t, coupon.id, 'c'); // 01:10 on the 6th
    t.setNow(DAY_START + 30 * 60_000);
    await loseGauges(t, coupon.id);
    await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/rebuild`), 200);
    expect(await dayCap(coupon.id)).toMatchObject({ total: 2, remain: 1, label: '2026-09-06' });
    await issued(t, coupon.id, 'd');
    await expectProblem(await issue(t, coupon.id, 'e'), 409, 'PERIOD_SOLD_OUT');
    expect((await live(t, coupon.id)).issue).toEqual({ total: 10, remain: 6 });
  });
}, ['postgres']);
