/**
 * The gauge contract for what must hold between the other operations: a sealed scope never
 * changes again, an adjust happens once per id, the open flag follows the newest version, and
 * holds whose time is up are settled before a take decides — or the take fails closed.
 */
import { describe, expect, it } from 'vitest';
import type { GaugePort } from '../../src/stock/gauge.js';
import { adjustBy, OPEN, opIdOf, type ScopeFactory, unique } from './gauge-fixture.js';

/** What only the adapter's own test can do: lose a key the way eviction or a failover would. */
export interface Forget {
  /** Deletes a gauge. */
  gauge(key: string): Promise<void>;
  /** Deletes the scope's policy. */
  policy(prefix: string): Promise<void>;
}

export function guaranteeContract(scope: ScopeFactory, gauge: () => GaugePort, forget: Forget): void {
  const T = Date.parse('2030-01-01T00:00:00Z');

  describe('sealed scopes', () => {
    it('refuses every change once sealed; answers already given still replay', async () => {
      const s = await scope(5);
      const taken = await s.take({ idempotencyKey: 'k1', now: T });
      const kept = opIdOf(await s.take({ user: 'u2', now: T }));
      expect(await gauge().seal(s.prefix, T)).toEqual({ found: true, given: 0, stuck: 0 });
      expect(await s.take({ user: 'u3', now: T })).toEqual({ ok: false, reason: 'sealed' });
      // The answer of a take made before the seal is still the same answer.
      expect(await s.take({ idempotencyKey: 'k1', now: T })).toMatchObject({ ok: true, replayed: true, opId: opIdOf(taken) });
      expect(await s.restore(kept)).toEqual({ ok: false, reason: 'sealed' });
      expect(await adjustBy(gauge(), s.prefix, s.stock, 1)).toEqual({ ok: false, reason: 'sealed' });
      expect(await gauge().setOpen(s.prefix, true, 99)).toBe('sealed');
      expect(await gauge().setPolicy(s.prefix, { ...OPEN, version: 99 })).toBe(false);
      expect(await gauge().getPolicy(s.prefix)).toMatchObject({ open: false, sealed: true });
      expect(await s.remainOf()).toBe(3);
      // Idempotent, and a sealed scope's policy outlives drop as a tombstone: loads are refused.
      expect(await gauge().seal(s.prefix, T)).toMatchObject({ found: true });
      await gauge().drop(s.prefix);
      await gauge().load([{ key: s.stock, total: 9, remain: 9 }]);
      expect(await gauge().read([s.stock])).toEqual([null]);
      expect(await s.take({ user: 'u4', now: T })).toEqual({ ok: false, reason: 'sealed' });
      // A take whose answer was lost before the archive still gets it when retried after the drop.
      expect(await s.take({ idempotencyKey: 'k1', now: T })).toMatchObject({ ok: true, replayed: true, opId: opIdOf(taken) });
    });

    it('gives every standing hold back when sealed, once; a commit afterwards is refused', async () => {
      const s = await scope(3);
      const held = opIdOf(await s.take({ user: 'h', hold: { expiresAt: T + 60_000 }, now: T }));
      await s.take({ user: 'h2', hold: { expiresAt: T + 60_000 }, now: T });
      expect(await s.remainOf()).toBe(1);
      expect(await gauge().seal(s.prefix, T + 1)).toEqual({ found: true, given: 2, stuck: 0 });
      expect(await s.remainOf()).toBe(3);
      expect(await gauge().seal(s.prefix, T + 2)).toEqual({ found: true, given: 0, stuck: 0 });
      // Sealed first: the archive gave the hold back, and nothing changes in an archived scope.
      expect(await gauge().commit({ prefix: s.prefix, opId: held, now: T + 3 })).toEqual({ ok: false, reason: 'sealed' });
      expect(await gauge().expireHolds(s.prefix, T + 120_000)).toBe(0);
    });

    it('seals nothing where there is no policy', async () => {
      expect(await gauge().seal(`cs:{c:none${unique()}}:`, T)).toEqual({ found: false, given: 0, stuck: 0 });
    });
  });

  describe('adjusts, once per id', () => {
    it('replays an adjust with the same id, refuses it with another fingerprint, and counts versions', async () => {
      const s = await scope(5);
      const cmd = { prefix: s.prefix, key: s.stock, delta: 3, opId: `adj-${unique()}`, fingerprint: 'stock:3' };
      expect(await gauge().adjust(cmd)).toEqual({ ok: true, total: 8, remain: 8, version: 1, replayed: false });
      expect(await gauge().adjust(cmd)).toEqual({ ok: true, total: 8, remain: 8, version: 1, replayed: true });
      expect(await gauge().adjust({ ...cmd, delta: 4, fingerprint: 'stock:4' })).toEqual({ ok: false, reason: 'conflict' });
      expect(await adjustBy(gauge(), s.prefix, s.stock, -2)).toMatchObject({ ok: true, total: 6, remain: 6, version: 2 });
      expect(await gauge().read([s.stock])).toEqual([{ total: 6, remain: 6, version: 2 }]);
      // Fifty concurrent retries of one adjust add once.
      const again = { ...cmd, opId: `adj-${unique()}`, delta: 10, fingerprint: 'stock:10' };
      const results = await Promise.all(Array.from({ length: 50 }, () => gauge().adjust(again)));
      expect(results.filter((r) => r.ok && !r.replayed)).toHaveLength(1);
      expect(results.every((r) => r.ok && r.total === 16)).toBe(true);
      expect(await s.remainOf()).toBe(16);
    });

    it('a refused adjust records nothing: the same id may run once the stock allows it', async () => {
      const s = await scope(1);
      const cmd = { prefix: s.prefix, key: s.stock, delta: -2, opId: `adj-${unique()}`, fingerprint: 'stock:-2' };
      expect(await gauge().adjust(cmd)).toEqual({ ok: false, reason: 'below_zero' });
      await adjustBy(gauge(), s.prefix, s.stock, 5);
      expect(await gauge().adjust(cmd)).toMatchObject({ ok: true, total: 4, remain: 4, replayed: false });
    });

    it('starts the version of a loaded gauge where the load says', async () => {
      const s = await scope(1);
      const key = `${s.prefix}v`;
      await gauge().load([{ key, total: 4, remain: 2, version: 7 }]);
      expect(await gauge().read([key])).toEqual([{ total: 4, remain: 2, version: 7 }]);
      expect(await adjustBy(gauge(), s.prefix, key, 1)).toMatchObject({ total: 5, remain: 3, version: 8 });
    });
  });

  describe('lost gauges and policies', () => {
    it('refuses commit, restore and adjust with the policy gone', async () => {
      const s = await scope(3);
      const held = opIdOf(await s.take({ user: 'h', hold: { expiresAt: T + 60_000 }, now: T }));
      const plain = opIdOf(await s.take({ now: T }));
      await forget.policy(s.prefix);
      expect(await gauge().commit({ prefix: s.prefix, opId: held, now: T + 1 })).toEqual({ ok: false, reason: 'unavailable' });
      expect(await s.restore(plain)).toEqual({ ok: false, reason: 'unavailable' });
      expect(await adjustBy(gauge(), s.prefix, s.stock, 1)).toEqual({ ok: false, reason: 'unavailable' });
      expect(await s.remainOf()).toBe(1);
    });

    it('answers a commit of a hold whose time is up as expired, keeping it listed while its gauge is gone', async () => {
      const s = await scope(3);
      const held = opIdOf(await s.take({ user: 'h', hold: { expiresAt: T + 1_000 }, now: T }));
      await forget.gauge(s.stock);
      expect(await gauge().commit({ prefix: s.prefix, opId: held, now: T + 2_000 })).toEqual({ ok: false, reason: 'expired' });
      await gauge().load([{ key: s.stock, total: 3, remain: 2 }]);
      expect(await gauge().expireHolds(s.prefix, T + 2_000)).toBe(1);
      expect(await s.remainOf()).toBe(3);
      expect(await gauge().commit({ prefix: s.prefix, opId: held, now: T + 3_000 })).toEqual({ ok: false, reason: 'expired' });
    });

    it('keeps a hold whose gauge is gone on the list: the sweep gives it back once the gauge is back', async () => {
      const s = await scope(3);
      await s.take({ user: 'h', hold: { expiresAt: T + 1_000 }, now: T });
      await forget.gauge(s.stock);
      expect(await gauge().expireHolds(s.prefix, T + 2_000)).toBe(0);
      expect(await gauge().activeHolds(s.prefix, T + 2_000)).toBe(0);
      // Rebuilt as the ledger counts it (the hold still taken); then the sweep gives it back.
      await gauge().load([{ key: s.stock, total: 3, remain: 2 }]);
      expect(await gauge().expireHolds(s.prefix, T + 2_000)).toBe(1);
      expect(await s.remainOf()).toBe(3);
    });
  });

  describe('holds settled before a take decides', () => {
    it('gives back every expired hold, not ten, before refusing: 20 dead holds and a take of 15', async () => {
      const s = await scope(20, { ...OPEN, limits: { stock: 0, perUser: 100, held: 0 } });
      for (let i = 0; i < 20; i++) await s.take({ user: `h${i}`, hold: { expiresAt: T + 1_000 }, now: T });
      expect(await s.remainOf()).toBe(0);
      expect(await s.take({ user: 'big', n: 15, now: T + 1_000 })).toMatchObject({ ok: true, remains: [5, 85] });
      expect(await gauge().activeHolds(s.prefix, T + 1_000)).toBe(0);
    });

    it('never replays a hold whose time is up for its owner: it holds anew', async () => {
      const s = await scope(20, { ...OPEN, limits: { stock: 0, perUser: 100, held: 0 } });
      for (let i = 0; i < 12; i++) await s.take({ user: `h${i}`, idempotencyKey: `owner-${i}`, hold: { expiresAt: T + 1_000 }, now: T });
      const again = await s.take({ user: 'h11', idempotencyKey: 'owner-11', hold: { expiresAt: T + 61_000 }, now: T + 1_000 });
      expect(again).toMatchObject({ ok: true, replayed: false, holdExpiresAt: T + 61_000 });
    });

    it('fails closed (unsettled), never refuses, while an expired hold cannot be given back', async () => {
      const s = await scope(1);
      const other = `${s.prefix}other`;
      await gauge().load([{ key: other, total: 1, remain: 1 }]);
      await gauge().setPolicy(s.prefix, { ...OPEN, limits: { ...OPEN.limits, other: 0 } });
      // A hold of the stock and of another gauge, whose other gauge is lost before it expires.
      await s.take({ user: 'h', items: [...s.items('h'), { key: other, n: 1, limit: 'other', lazy: false }], hold: { expiresAt: T + 1_000 }, now: T });
      await forget.gauge(other);
      expect(await s.take({ user: 'a', now: T + 2_000 })).toEqual({ ok: false, reason: 'unsettled' });
      expect(await s.remainOf()).toBe(0);
      await gauge().load([{ key: other, total: 1, remain: 0 }]);
      expect(await s.take({ user: 'a', now: T + 2_000 })).toMatchObject({ ok: true, remains: [0, 1] });
    });
  });
}
