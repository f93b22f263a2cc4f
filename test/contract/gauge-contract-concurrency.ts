/**
 * The gauge contract under concurrency: every call of a case is in flight at once, and only
 * what cannot depend on timing is asserted (no oversell, no false sell-out, once). No false
 * sell-out is judged take by take against the order the successes took (`test/support/sell-out.ts`).
 */
import { describe, expect, it } from 'vitest';
import type { GaugePort, TakeResult } from '../../src/stock/gauge.js';
import { judgedRefusals, sellOutViolations, TakeLog } from '../support/sell-out.js';
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

    it('never refuses a take that fits, judged take by take against the order the successes took', async () => {
      // Closed-loop clients: two ask 1 unit at a time until they are refused, six ask 9–15 until
      // then. Near the end the large asks no longer fit, and the small ones that still do show
      // what the stock was when a refusal was decided.
      const total = 400;
      const s = await scope(total, { ...OPEN, limits: { stock: 0 } });
      const log = new TakeLog();
      let soldOut = false;
      const client = async (name: string, sizes: number[]) => {
        for (let i = 0; i < 300 && !soldOut; i++) {
          const n = sizes[i % sizes.length] ?? 1;
          const result = await log.run(n, () => s.take({ user: `${name}-${i}`, n }), (r) => {
            if (r.ok) return r.remains[0] ?? null;
            if (r.reason !== 'insufficient' || r.index !== 0) throw new Error(`unexpected refusal: ${JSON.stringify(r)}`);
            return null;
          });
          if (!result.ok && n === 1) soldOut = true;
        }
      };
      // The large asks go first in each round, so a large one that does not fit is decided
      // before the small ones that do (a gauge that counted the refused ask for a moment would
      // refuse those).
      await Promise.all([
        ...Array.from({ length: 6 }, (_, i) => client(`big${i}`, [[12, 9, 15], [9, 15, 12], [15, 12, 9]][i % 3] ?? [12])),
        ...Array.from({ length: 2 }, (_, i) => client(`one${i}`, [1])),
      ]);
      expect(soldOut).toBe(true);
      const left = (await s.remainOf()) ?? -1;
      expect(sellOutViolations(total, log.takes, left)).toEqual([]);
      expect(left).toBe(0);
      // Logged, not asserted (timing decides it): how many refusals a later success could have proven false.
      console.log(`false sell-out check: ${log.takes.length} takes, ${judgedRefusals(log.takes)} refusals judged by a later success`);
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
