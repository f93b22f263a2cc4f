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
      const total = 25;
      const s = await scope(total);
      const taken: string[] = [];
      let refused = 0;
      let attempts = 0;
      const restored: string[] = [];
      const restores: Promise<void>[] = [];
      let restoring = 0;
      let overlap = 0; // takes answered while restores were running: the phases really overlap
      /** Gives a success back twice at once, while the takers go on. */
      const giveBack = async (opId: string) => {
        restoring += 1;
        const both = await Promise.all([s.restore(opId), s.restore(opId)]);
        restoring -= 1;
        expect(both.every((r) => r.ok), opId).toBe(true);
        expect(both.filter((r) => r.ok && r.restored).length, `${opId} given back once`).toBe(1);
        restored.push(opId);
      };
      // Closed-loop takers until 90 attempts (more demand than stock); the first 10 successes are
      // each given back twice at once, started the moment they succeed.
      const taker = async (n: number) => {
        for (let i = 0; attempts < 90; i++) {
          attempts += 1;
          const r = await s.take(`t${n}-${i}`, `u${n}-${i}`);
          if (restoring > 0) overlap += 1;
          if (r.ok) {
            taken.push(r.opId);
            if (taken.length <= 10) restores.push(giveBack(r.opId));
          } else if (r.reason === 'insufficient') refused += 1;
          else throw new Error(`unexpected refusal ${JSON.stringify(r)}`);
        }
      };
      await Promise.all(Array.from({ length: 6 }, (_, n) => taker(n)));
      await Promise.all(restores);
      expect(restored).toHaveLength(10);
      expect(overlap).toBeGreaterThan(0);
      expect(taken.length + refused).toBe(90);
      expect(new Set(taken).size).toBe(taken.length);
      // Every success and every give-back counted: the gauge and the ledger agree with them.
      const remainOf = async () => (await gauge.read([`${s.prefix}stock`]))[0]?.remain;
      const remain = await remainOf();
      expect(remain).toBe(total - taken.length + restored.length);
      const rows = await s.rows();
      expect(rows.filter((r) => r.action === 'take').map((r) => r.opId).sort()).toEqual([...taken].sort());
      expect(rows.filter((r) => r.action === 'restore').map((r) => r.opId).sort()).toEqual([...restored].sort());
      const net = async () => {
        const [row] = await test.db
          .select({ n: sql<number>`coalesce(sum(case when ${ledger.action} = 'take' then ${ledger.amount} else -${ledger.amount} end), 0)::int` })
          .from(ledger)
          .where(eq(ledger.scope, s.id));
        return row?.n;
      };
      expect(await net()).toBe(taken.length - restored.length);
      // Nothing was lost on the way: what is left can still be taken, exactly that much.
      let swept = 0;
      while ((await s.take(`sweep${swept}`, `w${swept}`)).ok) swept += 1;
      expect(swept).toBe(remain);
      expect(await remainOf()).toBe(0);
      expect(await net()).toBe(total);
    });
  });
}
