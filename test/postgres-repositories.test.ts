/**
 * The Postgres coupon and ledger repositories, on PGlite and on a real PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresCouponRepository } from '../src/adapters/postgres/coupon-repository.js';
import { PostgresLedgerRepository } from '../src/adapters/postgres/ledger-repository.js';
import type { CouponSpec } from '../src/coupon/coupon.js';
import { newId } from '../src/coupon/ids.js';
import { couponKeys } from '../src/coupon/keys.js';
import type { LedgerEvent } from '../src/stock/gauge.js';
import { DATABASES, type TestDb } from './support/db.js';

const spec = (over: Partial<CouponSpec> = {}): CouponSpec => ({
  name: 'spec',
  issueStock: { total: 10 },
  useStock: null,
  issuePeriodStock: null,
  usePeriodStock: null,
  budget: null,
  perUserIssueLimit: 1,
  perUserUseLimit: null,
  issueWindow: { start: new Date('2026-01-01T00:00:00Z'), end: null },
  useWindow: null,
  ...over,
});

const event = (over: Partial<LedgerEvent> = {}): LedgerEvent => ({
  opId: newId('iss'),
  action: 'take',
  scope: 'cpn_x',
  kind: 'issue',
  subject: 'u1',
  ref: null,
  amount: 1,
  at: Date.now(),
  ...over,
});

for (const database of DATABASES) {
  describe(`repositories on ${database.name}`, () => {
    let test: TestDb;
    let coupons: PostgresCouponRepository;
    let ledger: PostgresLedgerRepository;
    let t = Date.parse('2026-06-01T00:00:00Z');
    const create = (over: Partial<CouponSpec> = {}) => {
      t += 1000;
      return coupons.create({ id: newId('cpn', t), spec: spec(over), now: new Date(t) });
    };

    beforeAll(async () => {
      test = await database.open();
      coupons = new PostgresCouponRepository({ db: test.db });
      ledger = new PostgresLedgerRepository({ db: test.db });
    });
    afterAll(async () => {
      await test.close();
    });

    it('creates a draft and reads it back with stocks from the configured totals', async () => {
      const created = await create({ useStock: { total: 4 } });
      const read = await coupons.get(created.id);
      expect(read).toEqual(created);
      expect(read).toMatchObject({
        status: 'draft',
        issueStock: { total: 10 },
        issueWindow: { start: new Date('2026-01-01T00:00:00Z'), end: null },
        useWindow: null,
        stocks: { issue: { total: 10, remain: 10, syncedAt: null }, use: { total: 4, remain: 4, syncedAt: null } },
      });
      expect(await coupons.get('cpn_missing')).toBeNull();
    });

    it('maps a window without bounds to null and keeps a half-open one', async () => {
      const end = new Date('2026-09-01T00:00:00Z');
      const c = await create({
        issueStock: null,
        perUserIssueLimit: null,
        issueWindow: { start: null, end: null },
        useWindow: { start: null, end },
      });
      expect(await coupons.get(c.id)).toMatchObject({
        issueStock: null,
        issueWindow: null,
        useWindow: { start: null, end },
        stocks: { issue: null, use: null },
      });
    });

    it('changes and deletes drafts only', async () => {
      const c = await create();
      const updated = await coupons.updateDraft(c.id, spec({ name: 'renamed', issueStock: null }), new Date(t + 1));
      expect(updated).toMatchObject({ name: 'renamed', issueStock: null, stocks: { issue: null } });
      expect(updated?.createdAt).toEqual(c.createdAt);
      expect(updated?.updatedAt).toEqual(new Date(t + 1));
      expect(await coupons.get(c.id)).toEqual(updated);
      expect(await coupons.updateDraft('cpn_missing', spec(), new Date())).toBeNull();
      expect(await coupons.confirm(c.id, [], new Date(t + 2))).toBe(true);
      expect(await coupons.updateDraft(c.id, spec(), new Date(t + 3))).toBeNull();
      expect(await coupons.deleteDraft(c.id)).toBe(false);
      const d = await create();
      expect(await coupons.deleteDraft(d.id)).toBe(true);
      expect(await coupons.get(d.id)).toBeNull();
      expect(await coupons.deleteDraft(d.id)).toBe(false);
    });

    it('confirms once, creating the stock rows in the same transaction', async () => {
      const c = await create();
      const keys = couponKeys(c.id);
      const at = new Date(t + 5);
      expect(await coupons.confirm(c.id, [{ key: keys.issue, name: 'issue', total: 10, remain: 10 }], at)).toBe(true);
      expect(await coupons.confirm(c.id, [{ key: keys.issue, name: 'issue', total: 99, remain: 99 }], at)).toBe(false);
      expect(await coupons.get(c.id)).toMatchObject({ status: 'confirmed', stocks: { issue: { total: 10, remain: 10, syncedAt: at } } });
    });

    it('leaves a draft untouched when its stock rows cannot be written', async () => {
      const c = await create({ useStock: { total: 4 } });
      const keys = couponKeys(c.id);
      // A fractional count is refused by the bigint column, after the status update ran.
      const bad = [
        { key: keys.issue, name: 'issue' as const, total: 10, remain: 10 },
        { key: keys.use, name: 'use' as const, total: 4, remain: 1.5 },
      ];
      await expect(coupons.confirm(c.id, bad, new Date())).rejects.toThrow();
      expect((await coupons.get(c.id))?.status).toBe('draft');
      const good = [
        { key: keys.issue, name: 'issue' as const, total: 20, remain: 20 },
        { key: keys.use, name: 'use' as const, total: 4, remain: 4 },
      ];
      expect(await coupons.confirm(c.id, good, new Date())).toBe(true);
      // Had the failed attempt left a row behind, ON CONFLICT DO NOTHING would have kept its 10.
      expect((await coupons.get(c.id))?.stocks.issue).toMatchObject({ total: 20, remain: 20 });
    });

    it('lets exactly one of two concurrent confirms win', async () => {
      const c = await create();
      const rows = [{ key: couponKeys(c.id).issue, name: 'issue' as const, total: 10, remain: 10 }];
      const results = await Promise.all([coupons.confirm(c.id, rows, new Date()), coupons.confirm(c.id, rows, new Date())]);
      expect([...results].sort()).toEqual([false, true]);
    });

    it('moves status only from the allowed states', async () => {
      const c = await create();
      // Every change of status bumps the status version (the gauge's open flag follows the newest).
      expect(await coupons.transition(c.id, ['confirmed'], 'paused', new Date())).toBeNull();
      await coupons.confirm(c.id, [], new Date());
      expect((await coupons.get(c.id))?.statusVersion).toBe(1);
      expect(await coupons.transition(c.id, ['confirmed'], 'paused', new Date())).toBe(2);
      expect((await coupons.get(c.id))?.status).toBe('paused');
      expect(await coupons.transition(c.id, ['confirmed'], 'archived', new Date())).toBeNull();
      expect(await coupons.transition(c.id, ['confirmed', 'paused'], 'archived', new Date(t + 9))).toBe(3);
      expect(await coupons.get(c.id)).toMatchObject({ status: 'archived', statusVersion: 3, updatedAt: new Date(t + 9) });
      expect(await coupons.transition('cpn_missing', ['paused'], 'archived', new Date())).toBeNull();
    });

    it('adjusts totals and saves snapshots', async () => {
      const c = await create({ useStock: { total: 4 } });
      const keys = couponKeys(c.id);
      const confirmedAt = new Date(t + 1);
      const rows = [
        { key: keys.issue, name: 'issue' as const, total: 10, remain: 10 },
        { key: keys.use, name: 'use' as const, total: 4, remain: 4 },
      ];
      await coupons.confirm(c.id, rows, confirmedAt);
      // Totals follow the live gauge by adjust version: an older or repeated copy changes nothing.
      expect(await coupons.setTotal(keys.issue, 15, 1)).toBe(true);
      expect(await coupons.setTotal(keys.issue, 12, 1)).toBe(false);
      expect(await coupons.setTotal(keys.use, 3, 2)).toBe(true);
      expect(await coupons.setTotal(keys.use, 4, 1)).toBe(false);
      const synced = new Date('2026-07-01T00:00:00Z');
      await coupons.saveSnapshots([{ key: keys.issue, remain: 7 }, { key: keys.use, remain: 0 }, { key: 'cs:{c:none}:issue', remain: 1 }], synced);
      await coupons.saveSnapshots([], new Date());
      expect((await coupons.get(c.id))?.stocks).toEqual({
        issue: { total: 15, remain: 7, syncedAt: synced, totalVersion: 1 },
        use: { total: 3, remain: 0, syncedAt: synced, totalVersion: 2 },
        budget: null,
      });
      await coupons.saveSnapshots([{ key: keys.use, remain: 2 }], new Date(t + 2));
      expect((await coupons.get(c.id))?.stocks.issue?.syncedAt).toEqual(synced);
    });

    it('lists newest first with a status filter and stable cursors', async () => {
      const name = `page-${Math.random()}`;
      const made: Awaited<ReturnType<typeof create>>[] = [];
      for (let i = 0; i < 7; i++) made.push(await create({ name }));
      const confirmedAt = new Date(t + 1);
      for (const c of made.slice(0, 3)) {
        await coupons.confirm(c.id, [{ key: couponKeys(c.id).issue, name: 'issue', total: 10, remain: 10 }], confirmedAt);
      }
      const walk = async (status: 'draft' | 'confirmed', during?: () => Promise<unknown>) => {
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await coupons.list({ status, limit: 2, cursor });
          expect(page.items.length).toBeLessThanOrEqual(2);
          for (const item of page.items) expect(item.status).toBe(status);
          seen.push(...page.items.map((i) => i.id));
          cursor = page.nextCursor ?? undefined;
          await during?.();
          during = undefined;
        } while (cursor);
        expect([...seen].sort().reverse()).toEqual(seen);
        return { seen, mine: seen.filter((id) => made.some((m) => m.id === id)) };
      };
      // A coupon created while an admin pages is newer than every cursor: the walk is unchanged.
      const drafts = await walk('draft', () => create({ name }));
      expect(drafts.mine).toEqual(made.slice(3).map((m) => m.id).reverse());
      expect(drafts.seen.length).toBeGreaterThan(2);
      expect((await walk('confirmed')).mine).toEqual(made.slice(0, 3).map((m) => m.id).reverse());
      const confirmed = await coupons.list({ status: 'confirmed', limit: 100 });
      const listed = confirmed.items.find((i) => i.id === made[0]?.id);
      expect(listed?.stocks.issue).toEqual({ total: 10, remain: 10, syncedAt: confirmedAt, totalVersion: 0 });
      const all = await coupons.list({ limit: 3 });
      expect(all.items).toHaveLength(3);
      expect(all.nextCursor).toBe(all.items[2]?.id);
    });

    it('lists live ids in pages, oldest first', async () => {
      const a = await create();
      const b = await create();
      await coupons.confirm(a.id, [], new Date());
      await coupons.confirm(b.id, [], new Date());
      await coupons.transition(b.id, ['confirmed'], 'paused', new Date());
      const draft = await create();
      const archived = await create();
      await coupons.confirm(archived.id, [], new Date());
      await coupons.transition(archived.id, ['confirmed'], 'archived', new Date());
      const all: string[] = [];
      let after: string | null = null;
      for (;;) {
        const ids = await coupons.liveIds(after, 3);
        all.push(...ids);
        if (ids.length < 3) break;
        after = ids[ids.length - 1] ?? null;
      }
      expect(all).toContain(a.id);
      expect(all).toContain(b.id);
      expect(all).not.toContain(draft.id);
      expect(all).not.toContain(archived.id);
      expect(new Set(all).size).toBe(all.length);
      expect([...all].sort()).toEqual(all);
    });

    it('records each ledger event once, even twice in one batch', async () => {
      const scope = `cpn_${Math.random().toString(36).slice(2)}`;
      const take = event({ scope });
      await ledger.append([take, take, event({ scope }), event({ scope, kind: 'use' })]);
      await ledger.append([take, event({ scope, opId: take.opId, action: 'restore' })]);
      await ledger.append([]);
      expect(await ledger.net(scope)).toEqual({ issue: 1, use: 1 });
      expect(await ledger.net('cpn_nothing')).toEqual({});
    });

    it('appends large batches', async () => {
      const scope = `cpn_${Math.random().toString(36).slice(2)}`;
      const events = Array.from({ length: 1234 }, () => event({ scope }));
      // The repeats land in other chunks than their originals.
      await ledger.append([...events, ...events.slice(0, 600)]);
      expect(await ledger.net(scope)).toEqual({ issue: 1234 });
    });

    it('nets amounts per kind', async () => {
      const scope = `cpn_${Math.random().toString(36).slice(2)}`;
      const big = event({ scope, amount: 3 });
      await ledger.append([big, event({ scope, kind: 'use', amount: 2 }), event({ scope, kind: 'use', amount: 5 })]);
      expect(await ledger.net(scope)).toEqual({ issue: 3, use: 7 });
      await ledger.append([{ ...big, action: 'restore' }]);
      expect(await ledger.net(scope)).toEqual({ issue: 0, use: 7 });
    });

    it("lists a subject's takes newest first with their cancellations", async () => {
      const subject = `user-${Math.random()}`;
      const first = event({ subject, at: 1_000, scope: 'cpn_a' });
      const second = event({ subject, at: 2_000, scope: 'cpn_b', kind: 'use', ref: 'order-1' });
      const stranger = event({ subject: `${subject}-other`, at: 2_500 });
      await ledger.append([first, second, stranger, event({ ...first, action: 'restore', at: 3_000 })]);
      expect(await ledger.bySubject(subject, 10)).toEqual([
        { opId: second.opId, couponId: 'cpn_b', kind: 'use', ref: 'order-1', at: new Date(2_000), cancelledAt: null },
        { opId: first.opId, couponId: 'cpn_a', kind: 'issue', ref: null, at: new Date(1_000), cancelledAt: new Date(3_000) },
      ]);
      expect(await ledger.bySubject(subject, 1)).toHaveLength(1);
    });

    it('answers a ping', async () => {
      await expect(coupons.ping()).resolves.toBeUndefined();
    });
  });
}
