/**
 * The gauge contract, restore: exactly what a take took comes back, once, and never what is
 * no longer there.
 */
import { describe, expect, it } from 'vitest';
import type { GaugePort } from '../../src/stock/gauge.js';
import { adjustBy, OPEN, opIdOf, type Scope, type ScopeFactory } from './gauge-fixture.js';

/** An issue that gives one `held` coupon and a use that takes it back (the coupon module's shape). */
async function issueThenUse(s: Scope) {
  const held = { key: `${s.prefix}held`, limit: 'held', lazy: true };
  const issue = opIdOf(await s.take({ items: [s.items('u1')[0], { ...held, n: -1 }] }));
  const use = await s.take({ items: [{ ...held, n: 1 }], ledger: { scope: s.prefix, kind: 'use', subject: 'u1', ref: 'order-1', amount: 1 } });
  return { held: held.key, issue, use: opIdOf(use), useResult: use };
}

/** Registers the restore cases on scopes made by `scope` of `gauge()`. */
export function restoreContract(scope: ScopeFactory, gauge: () => GaugePort): void {
  describe('restore', () => {
    it('gives back once, however often it is called', async () => {
      const s = await scope(5);
      const before = Date.now();
      const opId = opIdOf(await s.take({ n: 2, ledger: { scope: s.prefix, kind: 'sell', subject: 'u1', ref: 'order-9', amount: 2 } }));
      const first = await s.restore(opId);
      expect(first).toMatchObject({
        ok: true,
        restored: true,
        remains: [5, 2],
        op: { opId, kind: 'sell', scope: s.prefix, subject: 'u1', ref: 'order-9', amount: 2 },
      });
      if (!first.ok) return;
      expect(first.op.at).toBeGreaterThanOrEqual(before);
      expect(first.op.restoredAt).toBeGreaterThanOrEqual(first.op.at);
      const second = await s.restore(opId);
      expect(second).toMatchObject({ ok: true, restored: false, remains: [5, 2], op: { opId, restoredAt: first.op.restoredAt } });
      expect(await s.remainOf()).toBe(5);
      expect(await s.remainOf(s.userKey('u1'))).toBe(2);
    });

    it('answers null for the unlimited items of the operation', async () => {
      const s = await scope(3, { ...OPEN, limits: { stock: 0 } });
      const opId = opIdOf(await s.take());
      expect(await s.restore(opId)).toMatchObject({ ok: true, restored: true, remains: [3, null] });
      expect(await s.restore(opId)).toMatchObject({ ok: true, restored: false, remains: [3, null] });
    });

    it('answers not_found for an unknown operation, another kind or another scope', async () => {
      const s = await scope(5);
      const other = await scope(5);
      const opId = opIdOf(await s.take());
      expect(await s.restore('op_none')).toEqual({ ok: false, reason: 'not_found' });
      expect(await s.restore(opId, 'other')).toEqual({ ok: false, reason: 'not_found' });
      expect(await other.restore(opId)).toEqual({ ok: false, reason: 'not_found' });
      expect(await s.remainOf()).toBe(4);
    });

    it('refuses to give back a give that is gone, changing nothing, until it is back', async () => {
      const s = await scope(5);
      const { held, issue, use, useResult } = await issueThenUse(s);
      expect(useResult).toMatchObject({ ok: true, remains: [0] });
      expect(await s.restore(issue)).toEqual({ ok: false, reason: 'insufficient', index: 1 });
      expect(await s.restore(issue)).toEqual({ ok: false, reason: 'insufficient', index: 1 });
      expect(await s.remainOf()).toBe(4);
      expect(await s.remainOf(held)).toBe(0);
      // The refused restore was not remembered: once the use is cancelled, the issue can be.
      expect(await s.restore(use, 'use')).toMatchObject({ ok: true, restored: true, remains: [1] });
      expect(await s.restore(issue)).toMatchObject({ ok: true, restored: true, remains: [5, 0] });
    });

    it('never gives back more than was taken, even after the limit was lowered', async () => {
      const s = await scope(5);
      const opId = opIdOf(await s.take({ n: 2 }));
      // Lower the limit by everything left: the give-back restores exactly the 2 taken.
      expect(await adjustBy(gauge(), s.prefix, s.stock, -3)).toMatchObject({ ok: true, total: 2, remain: 0 });
      expect(await s.restore(opId)).toMatchObject({ ok: true, restored: true, remains: [2, 2] });
      expect(await s.restore(opId)).toMatchObject({ ok: true, restored: false, remains: [2, 2] });
      expect(await gauge().read([s.stock, s.userKey('u1')])).toMatchObject([{ total: 2, remain: 2 }, { total: 2, remain: 2 }]);
    });
  });
}
