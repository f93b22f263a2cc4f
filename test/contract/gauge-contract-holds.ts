/**
 * The gauge contract for holds (checkout reservations): a hold takes like any take, and is
 * given back by itself once its time is up — lazily by the scope's next take, and by
 * `expireHolds` — unless it was committed; a release gives it back once; the same key holds
 * again only once its hold is gone.
 */
import { describe, expect, it } from 'vitest';
import type { GaugePort } from '../../src/stock/gauge.js';
import { opIdOf, type ScopeFactory } from './gauge-fixture.js';

export function holdContract(scope: ScopeFactory, gauge: () => GaugePort): void {
  describe('holds', () => {
    const T = Date.parse('2030-01-01T00:00:00Z');
    const hold = (expiresAt: number) => ({ hold: { expiresAt }, now: T });

    it('gives an expired hold back in the next take, so a take that fits is never refused', async () => {
      const s = await scope(1);
      const held = await s.take({ user: 'h', ...hold(T + 1_000) });
      expect(held).toMatchObject({ ok: true, remains: [0, 1], holdExpiresAt: T + 1_000 });
      expect(await s.take({ user: 'a', now: T + 999 })).toEqual({ ok: false, reason: 'insufficient', index: 0 });
      expect(await s.take({ user: 'a', now: T + 1_000 })).toMatchObject({ ok: true, remains: [0, 1], holdExpiresAt: null });
      // It was given back once: a release now finds nothing left to give.
      expect(await gauge().restore({ prefix: s.prefix, opId: opIdOf(held), kind: 'sell', now: T + 2_000, mode: 'hold' })).toMatchObject({ ok: true, restored: false });
      expect(await s.remainOf()).toBe(0);
    });

    it('keeps a committed hold for good; releasing it is refused, cancelling it gives it back', async () => {
      const s = await scope(1);
      const held = opIdOf(await s.take({ user: 'h', ...hold(T + 1_000) }));
      expect(await gauge().commit({ prefix: s.prefix, opId: held, now: T + 10 })).toEqual({ ok: true, committed: true, subject: 'h', ref: null });
      expect(await gauge().commit({ prefix: s.prefix, opId: held, now: T + 20 })).toMatchObject({ ok: true, committed: false });
      expect(await s.take({ user: 'a', now: T + 5_000 })).toEqual({ ok: false, reason: 'insufficient', index: 0 });
      expect(await gauge().expireHolds(s.prefix, T + 5_000)).toBe(0);
      expect(await gauge().restore({ prefix: s.prefix, opId: held, kind: 'sell', now: T + 6_000, mode: 'hold' })).toEqual({ ok: false, reason: 'committed' });
      expect(await s.restore(held)).toMatchObject({ ok: true, restored: true });
      expect(await s.remainOf()).toBe(1);
      // A commit retried after the use was cancelled (its first answer lost) replays its answer:
      // it did commit, once; the release still says so.
      expect(await gauge().commit({ prefix: s.prefix, opId: held, now: T + 7_000 })).toMatchObject({ ok: true, committed: false });
      expect(await gauge().restore({ prefix: s.prefix, opId: held, kind: 'sell', now: T + 7_000, mode: 'hold' })).toEqual({ ok: false, reason: 'committed' });
      expect(await s.remainOf()).toBe(1);
    });

    it('releases a hold once; a commit after a release or after its time is up is expired', async () => {
      const s = await scope(2);
      const a = opIdOf(await s.take({ user: 'a', ...hold(T + 1_000) }));
      const release = () => gauge().restore({ prefix: s.prefix, opId: a, kind: 'sell', now: T + 10, mode: 'hold' });
      expect(await release()).toMatchObject({ ok: true, restored: true, remains: [2, 2] });
      expect(await release()).toMatchObject({ ok: true, restored: false });
      expect(await gauge().commit({ prefix: s.prefix, opId: a, now: T + 20 })).toEqual({ ok: false, reason: 'expired' });
      const b = opIdOf(await s.take({ user: 'b', ...hold(T + 1_000) }));
      expect(await gauge().commit({ prefix: s.prefix, opId: b, now: T + 1_000 })).toEqual({ ok: false, reason: 'expired' });
      expect(await s.remainOf()).toBe(2);
      // Not a hold: neither released nor committed.
      const plain = opIdOf(await s.take({ user: 'c', now: T }));
      // Not "not found": the record is there, it is just not a hold (a lost record would be).
      expect(await gauge().commit({ prefix: s.prefix, opId: plain, now: T })).toEqual({ ok: false, reason: 'not_hold' });
      expect(await gauge().restore({ prefix: s.prefix, opId: plain, kind: 'sell', now: T, mode: 'hold' })).toEqual({ ok: false, reason: 'not_hold' });
    });

    it('replays a standing hold for the same key, and holds anew once it is gone', async () => {
      const s = await scope(5);
      const first = await s.take({ user: 'h', idempotencyKey: 'order-1', ...hold(T + 1_000) });
      const again = await s.take({ user: 'h', idempotencyKey: 'order-1', ...hold(T + 9_000) });
      expect(again).toEqual({ ok: true, opId: opIdOf(first), remains: [4, 1], replayed: true, holdExpiresAt: T + 1_000 });
      expect(await s.remainOf()).toBe(4);
      const later = await s.take({ user: 'h', idempotencyKey: 'order-1', hold: { expiresAt: T + 9_000 }, now: T + 2_000 });
      expect(later).toMatchObject({ ok: true, replayed: false, holdExpiresAt: T + 9_000 });
      expect(opIdOf(later)).not.toBe(opIdOf(first));
      expect(await s.remainOf()).toBe(4);
    });

    it('gives back every hold whose time is up by the sweep, and leaves the others', async () => {
      const s = await scope(5);
      for (const user of ['a', 'b', 'c']) await s.take({ user, ...hold(T + 1_000) });
      await s.take({ user: 'd', ...hold(T + 60_000) });
      expect(await s.remainOf()).toBe(1);
      expect(await gauge().activeHolds(s.prefix, T)).toBe(4);
      expect(await gauge().activeHolds(s.prefix, T + 1_000)).toBe(1);
      expect(await gauge().expireHolds(s.prefix, T + 1_000)).toBe(3);
      expect(await gauge().expireHolds(s.prefix, T + 1_000)).toBe(0);
      expect(await s.remainOf()).toBe(4);
      expect(await s.remainOf(s.userKey('a'))).toBe(2);
    });
  });
}
