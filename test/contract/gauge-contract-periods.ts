/**
 * The gauge contract for stocks that reset per period: a period is a lazy gauge whose key names
 * the period, checked together with every other item of the take, all or nothing; each period
 * starts fresh at the policy's limit; a restore gives back to the period the take came from.
 */
import { describe, expect, it } from 'vitest';
import type { GaugeItem, GaugePort, Policy } from '../../src/stock/gauge.js';
import { OPEN, opIdOf, type ScopeFactory, unique } from './gauge-fixture.js';

const CAPPED: Policy = { ...OPEN, limits: { ...OPEN.limits, perDay: 2 } };

export function periodContract(scope: ScopeFactory, gauge: () => GaugePort): void {
  describe('period stocks', () => {
    const periodItem = (prefix: string, label: string, n = 1): GaugeItem => ({ key: `${prefix}pd:${label}`, n, limit: 'perDay', lazy: true, expiresAt: Date.now() + 3_600_000 });

    it('caps each period at its limit within the overall stock, all or nothing', async () => {
      const s = await scope(5, CAPPED);
      const take = (label: string, user: string) => s.take({ user, items: [...s.items(user), periodItem(s.prefix, label)] });
      expect((await take('2026-12-01', 'a')).ok).toBe(true);
      expect((await take('2026-12-01', 'b')).ok).toBe(true);
      // The day is used up: refused on the period item, and nothing else was taken.
      expect(await take('2026-12-01', 'c')).toEqual({ ok: false, reason: 'insufficient', index: 2 });
      expect(await s.remainOf()).toBe(3);
      expect(await s.remainOf(s.userKey('c'))).toBeNull();
      // A new period starts fresh at the limit; the overall stock still bounds the sum.
      const next = await take('2026-12-02', 'c');
      expect(next).toMatchObject({ ok: true, remains: [2, 1, 1] });
      expect((await take('2026-12-02', 'd')).ok).toBe(true);
      expect((await take('2026-12-03', 'e')).ok).toBe(true);
      expect(await take('2026-12-03', 'f')).toEqual({ ok: false, reason: 'insufficient', index: 0 });
      expect(await gauge().read([`${s.prefix}pd:2026-12-01`, `${s.prefix}pd:2026-12-03`])).toMatchObject([
        { total: 2, remain: 0 },
        { total: 2, remain: 1 },
      ]);
    });

    it('gives a restored take back to its own period, once', async () => {
      const s = await scope(5, CAPPED);
      const first = opIdOf(await s.take({ user: 'a', items: [...s.items('a'), periodItem(s.prefix, 'p1')] }));
      await s.take({ user: 'b', items: [...s.items('b'), periodItem(s.prefix, 'p2')] });
      const restored = await s.restore(first);
      expect(restored).toMatchObject({ ok: true, restored: true, remains: [4, 2, 2] });
      expect(await s.restore(first)).toMatchObject({ ok: true, restored: false });
      expect(await gauge().read([`${s.prefix}pd:p1`, `${s.prefix}pd:p2`])).toMatchObject([
        { total: 2, remain: 2 },
        { total: 2, remain: 1 },
      ]);
    });

    it('skips a period the policy does not cap: unlimited, nothing created', async () => {
      const s = await scope(5);
      const taken = await s.take({ items: [...s.items('a'), periodItem(s.prefix, `x${unique()}`)] });
      expect(taken).toMatchObject({ ok: true, remains: [4, 1, null] });
    });
  });
}
