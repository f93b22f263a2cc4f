/**
 * The gauge contract under concurrency: every call of a case is in flight at once, and only
 * counts that cannot depend on timing are asserted (no oversell, no false sell-out, once).
 */
import { describe, expect, it } from 'vitest';
import type { GaugePort, TakeResult } from '../../src/stock/gauge.js';
import { OPEN, opIdOf, type ScopeFactory, unique } from './gauge-fixture.js';

const many = <T>(count: number, run: (i: number) => Promise<T>) => Promise.all(Array.from({ length: count }, (_, i) => run(i)));
const successes = (results: TakeResult[]) => results.flatMap((r) => (r.ok ? [r] : []));

/** Registers the concurrency cases on scopes made by `scope` of `gauge()`. */
export function concurrencyContract(scope: ScopeFactory, gauge: () => GaugePort): void {
  describe('under concurrency', () => {
    it('never oversells: 300 takes against 17 leave exactly 17 taken', async () => {
      const s = await scope(17, { ...OPEN, limits: { stock: 0 } });
      const results = await many(300, (i) => s.take({ user: `c${i}` }));
      const ok = successes(results);
      expect(ok).toHaveLength(17);
      // Each success saw its own remain: the 17 units went one by one, none twice.
      expect(ok.map((r) => r.remains[0]).sort((a, b) => (a ?? -1) - (b ?? -1))).toEqual(Array.from({ length: 17 }, (_, i) => i));
      expect(results.filter((r) => !r.ok && r.reason === 'insufficient' && r.index === 0)).toHaveLength(283);
      expect(await gauge().read([s.stock])).toMatchObject([{ total: 17, remain: 0 }]);
    });

    it('never refuses a multi-unit take that fits', async () => {
      const s = await scope(10, { ...OPEN, limits: { stock: 0 } });
      const results = await many(40, (i) => s.take({ user: `m${i}`, n: 3 }));
      expect(successes(results)).toHaveLength(3);
      expect(await s.remainOf()).toBe(1);
      expect(await s.take({ user: 'last', n: 1 })).toMatchObject({ ok: true, remains: [0, null] });
    });

    it('creates a lazy gauge once when one user races', async () => {
      const s = await scope(100);
      const results = await many(50, () => s.take({ user: 'racer' }));
      expect(successes(results)).toHaveLength(2);
      expect(results.filter((r) => !r.ok && r.reason === 'insufficient' && r.index === 1)).toHaveLength(48);
      expect(await gauge().read([s.stock, s.userKey('racer')])).toMatchObject([{ total: 100, remain: 98 }, { total: 2, remain: 0 }]);
    });

    it('takes once for 50 concurrent requests with one idempotency key', async () => {
      const s = await scope(100);
      const results = await many(50, () => s.take({ idempotencyKey: 'one' }));
      const ok = successes(results);
      expect(ok).toHaveLength(50);
      expect(new Set(ok.map((r) => r.opId)).size).toBe(1);
      expect(ok.filter((r) => !r.replayed)).toHaveLength(1);
      for (const r of ok) expect(r.remains).toEqual([99, 1]);
      expect(await s.remainOf()).toBe(99);
    });

    it('takes once when one key races with two fingerprints; the loser gets conflict', async () => {
      const s = await scope(100);
      const results = await many(40, (i) => s.take({ idempotencyKey: 'raced', fingerprint: i % 2 ? 'odd' : 'even' }));
      const ok = successes(results);
      expect(new Set(ok.map((r) => r.opId)).size).toBe(1);
      expect(ok.filter((r) => !r.replayed)).toHaveLength(1);
      expect(ok).toHaveLength(20);
      expect(results.filter((r) => !r.ok && r.reason === 'conflict')).toHaveLength(20);
      expect(await s.remainOf()).toBe(99);
    });

    it('restores once for 50 concurrent restores', async () => {
      const s = await scope(10);
      const opId = opIdOf(await s.take({ n: 2 }));
      const results = await many(50, () => s.restore(opId));
      expect(results.every((r) => r.ok)).toBe(true);
      expect(results.filter((r) => r.ok && r.restored)).toHaveLength(1);
      expect(await gauge().read([s.stock, s.userKey('u1')])).toMatchObject([{ total: 10, remain: 10 }, { total: 2, remain: 2 }]);
    });

    it('keeps total - remain equal to takes minus restores when both race', async () => {
      const s = await scope(20, { ...OPEN, limits: { stock: 0 } });
      const first = successes(await many(30, (i) => s.take({ user: `a${i}` })));
      expect(first).toHaveLength(20);
      const twice = [...first, ...first].map((r) => r.opId);
      const [restores, takes] = await Promise.all([
        Promise.all(twice.map((opId) => s.restore(opId))),
        many(30, (i) => s.take({ user: `b${i}`, idempotencyKey: unique() })),
      ]);
      expect(restores.filter((r) => r.ok && r.restored)).toHaveLength(20);
      const taken = successes(takes).length;
      expect(taken).toBeLessThanOrEqual(20);
      expect(await gauge().read([s.stock])).toMatchObject([{ total: 20, remain: 20 - taken }]);
    });
  });
}
