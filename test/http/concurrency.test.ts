/**
 * Races through the HTTP API on the real adapters: no oversell, no false sell-out (each
 * refusal judged against the order the successes took), exactly once per key, restores once,
 * per-user limits hold under concurrency.
 */
import { describe, expect, it } from 'vitest';
import { CLIENT, useTestApp } from '../support/app.js';
import { createLive, expectJson, issue, issued, live, sync, use, type IssuedBody, type ProblemBody } from '../support/fixtures.js';
import { sellOutViolations, TakeLog } from '../support/sell-out.js';

useTestApp('concurrency', (t) => {
  /** Status and parsed body of each response. */
  async function settle(responses: Promise<Response>[]) {
    return Promise.all(
      responses.map(async (p) => {
        const res = await p;
        return { status: res.status, replayed: res.headers.get('idempotent-replayed'), body: (await res.json()) as IssuedBody & ProblemBody };
      }),
    );
  }

  const count = <T>(items: T[], pick: (item: T) => boolean) => items.filter(pick).length;

  describe('a flash sale', () => {
    it('300 concurrent issues against a stock of 25: exactly 25 × 201 and 275 × SOLD_OUT', async () => {
      const coupon = await createLive(t, { issueStock: { total: 25 }, perUserIssueLimit: 1 });
      const results = await settle(Array.from({ length: 300 }, (_, i) => issue(t, coupon.id, `buyer-${i}`)));
      expect(count(results, (r) => r.status === 201)).toBe(25);
      expect(count(results, (r) => r.status === 409 && r.body.code === 'SOLD_OUT')).toBe(275);
      const wins = results.filter((r) => r.status === 201);
      expect(new Set(wins.map((r) => r.body.issueId)).size).toBe(25);
      expect(new Set(wins.map((r) => r.body.userId)).size).toBe(25);
      expect(wins.map((r) => r.body.remain).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(Array.from({ length: 25 }, (_, i) => i));
      expect((await live(t, coupon.id)).issue).toEqual({ total: 25, remain: 0 });
      expect((await sync(t, coupon.id)).issue).toMatchObject({ total: 25, remain: 0, ledger: 25, drift: 0 });
    });

    it('one user racing past perUserIssueLimit gets exactly the limit, and the stock pays once per success', async () => {
      const coupon = await createLive(t, { issueStock: { total: 100 }, perUserIssueLimit: 3 });
      const results = await settle(Array.from({ length: 40 }, () => issue(t, coupon.id, 'greedy')));
      expect(count(results, (r) => r.status === 201)).toBe(3);
      expect(count(results, (r) => r.body.code === 'USER_LIMIT_REACHED')).toBe(37);
      expect((await live(t, coupon.id)).issue?.remain).toBe(97);
    });

    it('concurrent uses of one held coupon: exactly one succeeds', async () => {
      const coupon = await createLive(t, { issueStock: { total: 5 }, useStock: { total: 5 } });
      await issued(t, coupon.id, 'u1');
      const results = await settle(Array.from({ length: 20 }, (_, i) => use(t, coupon.id, 'u1', { orderId: `o-${i}` })));
      expect(count(results, (r) => r.status === 201)).toBe(1);
      expect(count(results, (r) => r.body.code === 'NOT_ISSUED')).toBe(19);
      expect((await live(t, coupon.id)).use?.remain).toBe(4);
    });
  });

  describe('no false sell-out', () => {
    /** What a take's answer says for the oracle: the remain it left, `null` for `refused`; anything else fails the test. */
    const outcome = (refused: string, remainOf: (body: Record<string, unknown>) => unknown) => async (res: Response) => {
      const body = (await res.json()) as Record<string, unknown>;
      if (res.status === 201 && typeof remainOf(body) === 'number') return remainOf(body) as number;
      if (res.status === 409 && body.code === refused) return null;
      throw new Error(`unexpected answer ${res.status} ${JSON.stringify(body)}`);
    };

    it('never answers SOLD_OUT while a unit was left: each refusal judged against the order the 201s took', async () => {
      const total = 60;
      const coupon = await createLive(t, { issueStock: { total } });
      const log = new TakeLog();
      const read = outcome('SOLD_OUT', (b) => b.remain);
      let soldOut = false;
      // Closed-loop buyers: each sends its next issue when the last one is answered.
      await Promise.all(
        Array.from({ length: 8 }, async (_, buyer) => {
          for (let i = 0; i < 100 && !soldOut; i++) {
            const remain = await log.run(1, async () => read(await issue(t, coupon.id, `b${buyer}-${i}`)), (r) => r);
            if (remain === null) soldOut = true;
          }
        }),
      );
      expect(soldOut).toBe(true);
      expect(sellOutViolations(total, log.takes, (await live(t, coupon.id)).issue?.remain ?? -1)).toEqual([]);
    });

    it('never answers BUDGET_EXHAUSTED while the discount fitted: uses of 1–15 € judged the same way', async () => {
      const total = 40_000;
      const coupon = await createLive(t, { useStock: { total: 100_000 }, budget: { total, currency: 'EUR' } });
      const log = new TakeLog();
      const read = outcome('BUDGET_EXHAUSTED', (b) => b.budgetRemain);
      let spent = false;
      const shopper = async (name: string, amounts: number[]) => {
        for (let i = 0; i < 300 && !spent; i++) {
          const amount = amounts[i % amounts.length] ?? 100;
          const body = { userId: `${name}-${i}`, discountAmount: amount };
          const remain = await log.run(amount, async () => read(await t.call('POST', `/v1/coupons/${coupon.id}/uses`, { token: CLIENT, body })), (r) => r);
          if (remain === null && amount === 100) spent = true;
        }
      };
      // Large discounts first in each round: one that does not fit is decided before the small
      // ones that do, which a gauge counting the refused one for a moment would refuse too.
      await Promise.all([
        ...Array.from({ length: 6 }, (_, i) => shopper(`big${i}`, [[1_200, 900, 1_500], [900, 1_500, 1_200], [1_500, 1_200, 900]][i % 3] ?? [1_200])),
        ...Array.from({ length: 2 }, (_, i) => shopper(`small${i}`, [100])),
      ]);
      expect(spent).toBe(true);
      expect(sellOutViolations(total, log.takes, (await live(t, coupon.id)).budget?.remain ?? -1)).toEqual([]);
    });
  });

  describe('exactly once', () => {
    it('50 concurrent requests with one Idempotency-Key take once and all answer 201 with the same issueId', async () => {
      const coupon = await createLive(t, { issueStock: { total: 10 } });
      const results = await settle(Array.from({ length: 50 }, () => issue(t, coupon.id, 'u1', { key: 'double-click' })));
      expect(results.map((r) => r.status)).toEqual(Array(50).fill(201));
      expect(new Set(results.map((r) => r.body.issueId)).size).toBe(1);
      expect(new Set(results.map((r) => r.body.remain))).toEqual(new Set([9]));
      expect(count(results, (r) => r.replayed === 'true')).toBe(49);
      expect((await live(t, coupon.id)).issue?.remain).toBe(9);
      expect((await sync(t, coupon.id)).issue).toMatchObject({ ledger: 1, drift: 0 });
    });

    it('concurrent cancels of one issue restore it once', async () => {
      const coupon = await createLive(t, { issueStock: { total: 3 } });
      const taken = await issued(t, coupon.id, 'u1');
      await issued(t, coupon.id, 'u2');
      const cancels = Array.from({ length: 20 }, () => t.call('POST', `/v1/coupons/${coupon.id}/issues/${taken.issueId}/cancel`, { token: CLIENT }));
      const results = await Promise.all(cancels.map(async (p) => (await p).status));
      expect(results).toEqual(Array(20).fill(200));
      expect((await live(t, coupon.id)).issue).toEqual({ total: 3, remain: 2 });
      expect((await sync(t, coupon.id)).issue).toMatchObject({ remain: 2, ledger: 1, drift: 0 });
    });

    it('a use racing the cancel of its issue: never both', async () => {
      const coupon = await createLive(t, { issueStock: { total: 3 }, useStock: { total: 3 } });
      const taken = await issued(t, coupon.id, 'u1');
      const [useRes, cancelRes] = await Promise.all([
        use(t, coupon.id, 'u1'),
        t.call('POST', `/v1/coupons/${coupon.id}/issues/${taken.issueId}/cancel`, { token: CLIENT }),
      ]);
      const outcome = [useRes.status, cancelRes.status];
      expect([[201, 409], [409, 200]]).toContainEqual(outcome);
      const state = await live(t, coupon.id);
      expect(state.issue?.remain).toBe(useRes.status === 201 ? 2 : 3);
      expect(state.use?.remain).toBe(useRes.status === 201 ? 2 : 3);
      const report = await sync(t, coupon.id);
      expect(report.drifted).toEqual([]);
      expect(await expectJson(await t.call('GET', `/v1/coupons/${coupon.id}`), 200)).toMatchObject({ status: 'confirmed' });
    });
  });
});
