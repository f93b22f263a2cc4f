/**
 * The gauge contract for value gauges (a money budget): a take gives up a stated amount, all or
 * nothing with its other items, never more than is left; an item whose amount was not stated is
 * refused where the policy limits it, never let through for free.
 */
import { describe, expect, it } from 'vitest';
import type { GaugeItem, GaugePort, Policy } from '../../src/stock/gauge.js';
import { OPEN, opIdOf, type ScopeFactory } from './gauge-fixture.js';

const BUDGETED: Policy = { ...OPEN, limits: { ...OPEN.limits, budget: 0 } };

export function valueContract(scope: ScopeFactory, gauge: () => GaugePort): void {
  describe('value gauges', () => {
    async function budgeted(total: number, policy: Policy = BUDGETED) {
      const s = await scope(10, policy);
      const key = `${s.prefix}budget`;
      await gauge().load([{ key, total, remain: total }]);
      const item = (n: number | null): GaugeItem => ({ key, n: n ?? 0, limit: 'budget', lazy: false, ...(n === null ? { unstated: true } : {}) });
      const take = (user: string, n: number | null) => s.take({ user, items: [...s.items(user), item(n)], ledger: { scope: s.prefix, kind: 'sell', subject: user, ref: null, amount: 1, value: n } });
      return { ...s, key, take };
    }

    it('gives up the stated amount, never more than is left, all or nothing', async () => {
      const s = await budgeted(1_000);
      expect(await s.take('a', 300)).toMatchObject({ ok: true, remains: [9, 1, 700] });
      await s.take('b', 300);
      await s.take('c', 300);
      expect(await s.take('d', 300)).toEqual({ ok: false, reason: 'insufficient', index: 2 });
      expect(await s.remainOf()).toBe(7);
      expect(await s.remainOf(s.userKey('d'))).toBeNull();
      expect(await s.take('d', 100)).toMatchObject({ ok: true, remains: [6, 1, 0] });
      expect(await s.take('e', 0)).toMatchObject({ ok: true, remains: [5, 1, 0] });
    });

    it('gives the amount back on restore, once', async () => {
      const s = await budgeted(500);
      const op = opIdOf(await s.take('a', 450));
      expect(await s.take('b', 100)).toMatchObject({ ok: false, reason: 'insufficient' });
      expect(await s.restore(op)).toMatchObject({ ok: true, restored: true, remains: [10, 2, 500] });
      expect(await s.restore(op)).toMatchObject({ ok: true, restored: false });
      expect(await s.remainOf(s.key)).toBe(500);
    });

    it('refuses an unstated amount where the policy limits the gauge, and changes nothing', async () => {
      const s = await budgeted(500);
      expect(await s.take('a', null)).toEqual({ ok: false, reason: 'unstated', index: 2 });
      expect(await s.remainOf()).toBe(10);
      expect(await s.remainOf(s.key)).toBe(500);
      // Without a budget in the policy the item is skipped: an unstated amount is fine.
      const open = await budgeted(500, OPEN);
      expect(await open.take('a', null)).toMatchObject({ ok: true, remains: [9, 1, null] });
    });
  });
}
