/**
 * The gauge contract: written once, run against every GaugePort adapter. It speaks only the
 * port, so an adapter that passes it keeps every invariant the coupon module relies on: no
 * oversell, all or nothing, fail closed, exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GaugePort } from '../../src/stock/gauge.js';
import { concurrencyContract } from './gauge-contract-concurrency.js';
import { guaranteeContract } from './gauge-contract-guarantees.js';
import { holdContract } from './gauge-contract-holds.js';
import { periodContract } from './gauge-contract-periods.js';
import { restoreContract } from './gauge-contract-restore.js';
import { valueContract } from './gauge-contract-value.js';
import { adjustBy, freshScope, OPEN, type OpenGauge, opIdOf, type ScopeFactory, unique } from './gauge-fixture.js';

export type { OpenGauge } from './gauge-fixture.js';

/** Registers the whole contract for one adapter; `open` is called once, before the cases. */
export function gaugeContract(name: string, open: () => Promise<OpenGauge>): void {
  describe(`gauge contract: ${name}`, () => {
    let opened: OpenGauge;
    beforeAll(async () => {
      opened = await open();
    });
    afterAll(async () => {
      await opened.close();
    });
    const gauge = (): GaugePort => opened.gauge;
    const scope: ScopeFactory = (remain, policy, prefix) => freshScope(gauge(), remain, policy, prefix);

    describe('load, read, adjust, policy', () => {
      it('loads only when absent', async () => {
        const s = await scope(5);
        await gauge().load([{ key: s.stock, total: 100, remain: 100 }]);
        expect(await gauge().read([s.stock])).toMatchObject([{ total: 5, remain: 5 }]);
      });

      it('reads null for a missing gauge, in input order', async () => {
        const s = await scope(3);
        expect(await gauge().read([`${s.prefix}none`, s.stock])).toMatchObject([null, { total: 3, remain: 3 }]);
        expect(await gauge().read([])).toEqual([]);
      });

      it('adjusts total and remain, never below zero', async () => {
        const s = await scope(2);
        expect(await adjustBy(gauge(), s.prefix, s.stock, 3)).toMatchObject({ ok: true, total: 5, remain: 5 });
        expect(await adjustBy(gauge(), s.prefix, s.stock, -5)).toMatchObject({ ok: true, total: 0, remain: 0 });
        expect(await adjustBy(gauge(), s.prefix, s.stock, -1)).toEqual({ ok: false, reason: 'below_zero' });
        expect(await gauge().read([s.stock])).toMatchObject([{ total: 0, remain: 0 }]);
        expect(await adjustBy(gauge(), s.prefix, `${s.prefix}none`, 1)).toEqual({ ok: false, reason: 'unavailable' });
        expect(await gauge().read([`${s.prefix}none`])).toEqual([null]);
      });

      it('keeps the policy, opens and closes it', async () => {
        const s = await scope(1);
        expect(await gauge().getPolicy(s.prefix)).toEqual(OPEN);
        expect(await gauge().setOpen(s.prefix, false, 1)).toBe('ok');
        expect(await gauge().getPolicy(s.prefix)).toMatchObject({ ...OPEN, open: false, version: 1 });
        // An older writer never overrides a newer flag; the same version is a retry and applies.
        expect(await gauge().setOpen(s.prefix, true, 0)).toBe('stale');
        expect(await gauge().getPolicy(s.prefix)).toMatchObject({ open: false, version: 1 });
        expect(await gauge().setOpen(s.prefix, false, 1)).toBe('ok');
        expect(await gauge().setOpen(`cs:{c:none${unique()}}:`, true, 1)).toBe('missing');
        expect(await gauge().getPolicy(`cs:{c:none${unique()}}:`)).toBeNull();
      });
    });

    describe('take', () => {
      it('takes every item and answers the remains', async () => {
        const s = await scope(3);
        expect(await s.take()).toMatchObject({ ok: true, replayed: false, remains: [2, 1] });
        expect(await gauge().read([s.stock, s.userKey('u1')])).toMatchObject([{ total: 3, remain: 2 }, { total: 2, remain: 1 }]);
      });

      it('starts lazy gauges at their limit and skips unlimited items, even missing ones', async () => {
        const s = await scope(3, { ...OPEN, limits: { stock: 0 } });
        expect(await s.take()).toMatchObject({ ok: true, remains: [2, null] });
        expect(await gauge().read([s.userKey('u1')])).toEqual([null]);
        const ghost = { key: `${s.prefix}ghost`, n: 1, limit: 'perUser', lazy: false };
        expect(await s.take({ items: [s.items('u1')[0], ghost] })).toMatchObject({ ok: true, remains: [1, null] });
      });

      it('is all or nothing: a failing later item changes nothing', async () => {
        const s = await scope(10);
        await s.take({ n: 2 });
        expect(await s.take({ n: 1 })).toEqual({ ok: false, reason: 'insufficient', index: 1 });
        expect(await s.remainOf()).toBe(8);
        expect(await gauge().read([s.userKey('u1')])).toMatchObject([{ total: 2, remain: 0 }]);
        expect(await s.take({ user: 'u2', n: 3 })).toEqual({ ok: false, reason: 'insufficient', index: 1 });
        expect(await gauge().read([s.userKey('u2')])).toEqual([null]);
        expect(await s.remainOf()).toBe(8);
      });

      it('reports the first short item in item order, not key order', async () => {
        const s = await scope(0);
        const [stock, user] = s.items('u1', 3);
        // Both short: the per-user item comes first in the command, though its key sorts last.
        expect(await s.take({ items: [user, stock] })).toEqual({ ok: false, reason: 'insufficient', index: 0 });
        expect(await s.take({ items: [stock, user] })).toEqual({ ok: false, reason: 'insufficient', index: 0 });
        expect(await s.take({ items: [{ ...user, n: 1 }, { ...stock, n: 1 }] })).toEqual({ ok: false, reason: 'insufficient', index: 1 });
        expect(await gauge().read([s.userKey('u1')])).toEqual([null]);
      });

      it('gives with a negative n', async () => {
        const s = await scope(3);
        const held = { key: `${s.prefix}held`, n: -1, limit: 'held', lazy: true };
        expect(await s.take({ items: [s.items('u1')[0], held] })).toMatchObject({ ok: true, remains: [2, 1] });
        expect(await s.remainOf(held.key)).toBe(1);
      });

      it('fails closed on a missing policy or a missing gauge, creating nothing', async () => {
        const s = await scope(3);
        // A scope with no policy under the same hash tag: one cluster slot, as every real take.
        expect(await s.take({ prefix: `${s.prefix}none${unique()}:` })).toEqual({ ok: false, reason: 'unavailable' });
        expect(await s.remainOf()).toBe(3);
        const t = await scope(3);
        await gauge().drop(t.prefix);
        await gauge().setPolicy(t.prefix, OPEN);
        expect(await t.take()).toEqual({ ok: false, reason: 'unavailable' });
        const [stock, user] = t.items('u1');
        expect(await t.take({ items: [user, stock] })).toEqual({ ok: false, reason: 'unavailable' });
        expect(await gauge().read([t.stock, t.userKey('u1')])).toEqual([null, null]);
      });

      it('refuses while closed, and takes again once reopened', async () => {
        const s = await scope(3, { ...OPEN, open: false });
        expect(await s.take()).toEqual({ ok: false, reason: 'closed' });
        expect(await s.remainOf()).toBe(3);
        await gauge().setOpen(s.prefix, true, 1);
        expect(await s.take()).toMatchObject({ ok: true, remains: [2, 1] });
      });

      it('refuses outside the window (start inclusive, end exclusive)', async () => {
        const now = Date.now();
        const w = await scope(3, { ...OPEN, windows: { sell: { start: now, end: now + 1000 } } });
        expect(await w.take({ now: now - 1 })).toEqual({ ok: false, reason: 'not_started' });
        expect(await w.take({ now: now + 1000 })).toEqual({ ok: false, reason: 'ended' });
        expect(await w.take({ now })).toMatchObject({ ok: true });
        expect(await w.take({ now: now + 999, user: 'u2' })).toMatchObject({ ok: true });
        expect(await w.remainOf()).toBe(1);
        const open = await scope(3, { ...OPEN, windows: { sell: { start: null, end: now + 1000 } } });
        expect(await open.take({ now: 0 })).toMatchObject({ ok: true });
      });

      it('replays the first answer for the same key, even after the gauges moved', async () => {
        const s = await scope(5);
        const first = await s.take({ idempotencyKey: 'same' });
        expect(first).toMatchObject({ ok: true, remains: [4, 1] });
        await s.take({ user: 'u2' });
        const again = await s.take({ idempotencyKey: 'same' });
        expect(again).toEqual({ ok: true, opId: opIdOf(first), remains: [4, 1], replayed: true, holdExpiresAt: null });
        expect(await s.take({ idempotencyKey: 'same', fingerprint: 'other' })).toEqual({ ok: false, reason: 'conflict' });
        expect(await s.remainOf()).toBe(3);
      });

      it('keeps idempotency keys per scope', async () => {
        const a = await scope(5);
        const b = await scope(5);
        expect(await a.take({ idempotencyKey: 'shared' })).toMatchObject({ ok: true, replayed: false });
        expect(await b.take({ idempotencyKey: 'shared', fingerprint: 'another' })).toMatchObject({ ok: true, replayed: false });
      });

      it('does not remember a refusal', async () => {
        const s = await scope(0);
        expect(await s.take({ idempotencyKey: 'retry' })).toMatchObject({ ok: false, reason: 'insufficient' });
        await adjustBy(gauge(), s.prefix, s.stock, 1);
        expect(await s.take({ idempotencyKey: 'retry' })).toMatchObject({ ok: true, replayed: false, remains: [0, 1] });
      });
    });

    describe('drop', () => {
      it('removes a scope and nothing else', async () => {
        const a = await scope(5);
        const b = await scope(5);
        const taken = await a.take();
        await b.take();
        await gauge().drop(a.prefix);
        expect(await gauge().getPolicy(a.prefix)).toBeNull();
        expect(await gauge().read([a.stock, a.userKey('u1')])).toEqual([null, null]);
        expect(await a.take()).toEqual({ ok: false, reason: 'unavailable' });
        expect(await a.restore(opIdOf(taken))).toEqual({ ok: false, reason: 'not_found' });
        expect(await gauge().read([b.stock])).toMatchObject([{ total: 5, remain: 4 }]);
        expect(await b.take({ user: 'u2' })).toMatchObject({ ok: true });
      });

      it('reads the prefix literally, whatever pattern characters it holds', async () => {
        const id = unique();
        const dropped = [await scope(5, OPEN, `cs:{c:${id}%_}:`), await scope(5, OPEN, `cs:{c:${id}?*}:`)];
        const kept = [await scope(5, OPEN, `cs:{c:${id}ab}:`), await scope(5, OPEN, `cs:{c:${id}cd}:`)];
        for (const s of dropped) await gauge().drop(s.prefix);
        // One read per scope: a read names the keys of one scope (one cluster slot).
        const readEach = (scopes: { stock: string }[]) => Promise.all(scopes.map(async (s) => (await gauge().read([s.stock]))[0]));
        expect(await readEach(dropped)).toEqual([null, null]);
        expect(await readEach(kept)).toMatchObject([{ total: 5, remain: 5 }, { total: 5, remain: 5 }]);
        for (const s of kept) expect(await gauge().getPolicy(s.prefix)).toEqual(OPEN);
      });

      it('forgets idempotency keys, so a rebuilt scope takes afresh', async () => {
        const s = await scope(5);
        await s.take({ idempotencyKey: 'again' });
        await gauge().drop(s.prefix);
        await gauge().load([{ key: s.stock, total: 5, remain: 5 }]);
        await gauge().setPolicy(s.prefix, OPEN);
        expect(await s.take({ idempotencyKey: 'again' })).toMatchObject({ ok: true, replayed: false, remains: [4, 1] });
      });
    });

    restoreContract(scope, gauge);
    concurrencyContract(scope, gauge);
    periodContract(scope, gauge);
    valueContract(scope, gauge);
    holdContract(scope, gauge);
    guaranteeContract(scope, gauge, { gauge: (key) => opened.forget.gauge(key), policy: (prefix) => opened.forget.policy(prefix) });
  });
}
