/**
 * The Postgres gauge on PGlite and on a real PostgreSQL: the shared gauge contract, plus its
 * ledger, which it writes in the take's own transaction (so there is nothing to drain).
 */
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresGauge } from '../src/adapters/postgres/postgres-gauge.js';
import { gaugePolicies, gauges, ledger } from '../src/adapters/postgres/schema.js';
import type { TakeCommand } from '../src/stock/gauge.js';
import { gaugeContract } from './contract/gauge-contract.js';
import { opIdOf, unique } from './contract/gauge-fixture.js';
import { DATABASES, type TestDb } from './support/db.js';

for (const database of DATABASES) {
  gaugeContract(`postgres on ${database.name}`, async () => {
    const test = await database.open();
    const forget = {
      gauge: async (key: string) => void (await test.db.delete(gauges).where(eq(gauges.key, key))),
      policy: async (prefix: string) => void (await test.db.delete(gaugePolicies).where(eq(gaugePolicies.prefix, prefix))),
    };
    return { gauge: new PostgresGauge({ db: test.db }), forget, close: test.close };
  });

  describe(`postgres gauge ledger on ${database.name}`, () => {
    let test: TestDb;
    let gauge: PostgresGauge;
    beforeAll(async () => {
      test = await database.open();
      gauge = new PostgresGauge({ db: test.db });
    });
    afterAll(async () => {
      await test.close();
    });

    /** A scope whose ledger scope is unique too, so each case reads only its own rows. */
    async function scope(total: number) {
      const id = unique();
      const prefix = `cs:{c:${id}}:`;
      await gauge.load([{ key: `${prefix}stock`, total, remain: total }]);
      await gauge.setPolicy(prefix, { open: true, version: 0, windows: {}, limits: { stock: total } });
      const take = (key: string, user: string, over: Partial<TakeCommand> = {}) =>
        gauge.take({
          prefix,
          window: 'sell',
          opId: `op_${unique()}`,
          idempotencyKey: key,
          fingerprint: 'f',
          items: [{ key: `${prefix}stock`, n: 1, limit: 'stock', lazy: false }],
          ledger: { scope: id, kind: 'sell', subject: user, ref: 'order-1', amount: 1 },
          now: Date.now(),
          ...over,
        });
      const restore = (opId: string) => gauge.restore({ prefix, opId, kind: 'sell', now: Date.now() });
      const rows = () => test.db.select().from(ledger).where(eq(ledger.scope, id));
      return { id, prefix, take, restore, rows };
    }

    it('writes one take per success, one restore per restore, nothing for refusals or replays', async () => {
      const s = await scope(1);
      const at = Date.now();
      const a = opIdOf(await s.take('a', 'alice', { now: at }));
      expect(await s.take('a', 'alice')).toMatchObject({ ok: true, replayed: true });
      expect(await s.take('a', 'alice', { fingerprint: 'other' })).toEqual({ ok: false, reason: 'conflict' });
      expect(await s.take('b', 'bob')).toMatchObject({ ok: false, reason: 'insufficient' });
      await gauge.setOpen(s.prefix, false, 1);
      expect(await s.take('c', 'carol')).toEqual({ ok: false, reason: 'closed' });
      await s.restore(a);
      await s.restore(a);
      const rows = await s.rows();
      expect(rows.map((r) => [r.opId, r.action, r.kind, r.subject, r.ref, r.amount]).sort()).toEqual([
        [a, 'restore', 'sell', 'alice', 'order-1', 1],
        [a, 'take', 'sell', 'alice', 'order-1', 1],
      ]);
      expect(rows.find((r) => r.action === 'take')?.at.getTime()).toBe(at);
      expect(await gauge.drain()).toBe(0);
    });

    it('records the value a take gave up, on its take and its restore row', async () => {
      const s = await scope(3);
      const op = opIdOf(await s.take('v', 'val', { ledger: { scope: s.id, kind: 'sell', subject: 'val', ref: null, amount: 1, value: 1_250 } }));
      await s.take('w', 'plain');
      await s.restore(op);
      const rows = await s.rows();
      expect(rows.map((r) => [r.subject, r.action, r.value]).sort()).toEqual([
        ['plain', 'take', null],
        ['val', 'restore', 1_250],
        ['val', 'take', 1_250],
      ]);
    });

    it('writes nothing for a refused restore', async () => {
      const s = await scope(3);
      const held = { key: `${s.prefix}held`, limit: 'stock', lazy: true };
      const issue = opIdOf(await s.take('issue', 'dan', { items: [{ ...held, n: -1 }] }));
      opIdOf(await s.take('use', 'dan', { items: [{ ...held, n: 4 }] }));
      expect(await s.restore(issue)).toEqual({ ok: false, reason: 'insufficient', index: 0 });
      expect((await s.rows()).map((r) => r.action)).toEqual(['take', 'take']);
    });

    it('restores past a period gauge that is gone, refusing only when a required gauge is', async () => {
      const s = await scope(3);
      await gauge.setPolicy(s.prefix, { open: true, version: 0, windows: {}, limits: { stock: 3, perDay: 2 } });
      const day = { key: `${s.prefix}pd:2026-12-01`, n: 1, limit: 'perDay', lazy: true };
      const taken = opIdOf(await s.take('p', 'pat', { items: [{ key: `${s.prefix}stock`, n: 1, limit: 'stock', lazy: false }, day] }));
      await test.db.delete(gauges).where(eq(gauges.key, day.key));
      expect(await s.restore(taken)).toMatchObject({ ok: true, restored: true, remains: [3, null] });
      const again = opIdOf(await s.take('q', 'pat', { items: [{ key: `${s.prefix}stock`, n: 1, limit: 'stock', lazy: false }, day] }));
      await test.db.delete(gauges).where(eq(gauges.key, `${s.prefix}stock`));
      expect(await s.restore(again)).toEqual({ ok: false, reason: 'unavailable' });
    });

    it('keeps total - remain equal to the net ledger count under concurrent takes and restores', async () => {
      const s = await scope(25);
      const taken = (await Promise.all(Array.from({ length: 60 }, (_, i) => s.take(`k${i}`, `u${i}`)))).flatMap((r) => (r.ok ? [r.opId] : []));
      await Promise.all([...taken.slice(0, 10), ...taken.slice(0, 10)].map((opId) => s.restore(opId)));
      await Promise.all(Array.from({ length: 30 }, (_, i) => s.take(`again${i}`, `v${i}`)));
      const [live] = await gauge.read([`${s.prefix}stock`]);
      const [net] = await test.db
        .select({ n: sql<number>`coalesce(sum(case when ${ledger.action} = 'take' then ${ledger.amount} else -${ledger.amount} end), 0)::int` })
        .from(ledger)
        .where(eq(ledger.scope, s.id));
      expect(live).toMatchObject({ total: 25, remain: 0 });
      expect(net?.n).toBe(25);
    });
  });
}
