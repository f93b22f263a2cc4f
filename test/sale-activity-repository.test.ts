/**
 * The sale chart's query (`LedgerRepository.activity`) and the refusal counts it joins, on
 * PGlite and on a real PostgreSQL: per minute takes, restores and refusals of each kind, the
 * running net over all history, in one statement.
 */
import { drizzle as pgDrizzle } from 'drizzle-orm/node-postgres';
import { drizzle as pgliteDrizzle } from 'drizzle-orm/pglite';
import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../src/adapters/postgres/db.js';
import { PostgresLedgerRepository } from '../src/adapters/postgres/ledger-repository.js';
import { PostgresRefusalRepository } from '../src/adapters/postgres/refusal-repository.js';
import * as schema from '../src/adapters/postgres/schema.js';
import { newId } from '../src/coupon/ids.js';
import type { LedgerEvent } from '../src/stock/gauge.js';
import { DATABASES, type TestDb } from './support/db.js';

const MINUTE = 60_000;
const T0 = Date.parse('2026-06-01T10:00:00Z');
const at = (minutes: number, seconds = 0) => T0 + minutes * MINUTE + seconds * 1000;

const event = (scope: string, over: Partial<LedgerEvent> = {}): LedgerEvent => ({
  opId: newId('iss'),
  action: 'take',
  scope,
  kind: 'issue',
  subject: 'u',
  ref: null,
  amount: 1,
  at: T0,
  ...over,
});

/** A take and, when `restoredAt` is given, its restore. */
const take = (scope: string, when: number, over: Partial<LedgerEvent> & { restoredAt?: number } = {}): LedgerEvent[] => {
  const { restoredAt, ...rest } = over;
  const e = event(scope, { ...rest, at: when });
  return restoredAt === undefined ? [e] : [e, { ...e, action: 'restore', at: restoredAt }];
};

/** The same database through a Drizzle instance that records every statement sent. */
function recording(test: TestDb, statements: string[]): Db {
  const logger = { logQuery: (query: string) => statements.push(query) };
  const client = (test.db as unknown as { $client: unknown }).$client;
  return test.name === 'pglite'
    ? (pgliteDrizzle({ client: client as PGlite, schema, logger }) as unknown as Db)
    : (pgDrizzle({ client: client as pg.Pool, schema, logger }) as unknown as Db);
}

for (const database of DATABASES) {
  describe(`sale activity on ${database.name}`, () => {
    let test: TestDb;
    let ledger: PostgresLedgerRepository;
    let refusals: PostgresRefusalRepository;

    beforeAll(async () => {
      test = await database.open();
      ledger = new PostgresLedgerRepository({ db: test.db });
      refusals = new PostgresRefusalRepository({ db: test.db });
    });
    afterAll(async () => {
      await test.close();
    });

    it('counts takes, restores and refusals per minute and kind, with the net over all history, in one statement', async () => {
      const scope = newId('cpn');
      await ledger.append([
        // Before the window: 3 issues, one of them cancelled inside it (minute 1).
        ...take(scope, at(-90)),
        ...take(scope, at(-61, 30)),
        ...take(scope, at(-61, 59), { restoredAt: at(1, 10) }),
        // Minute 0 (the window's first, from its first instant): 3 issues, one cancelled in minute 0.
        ...take(scope, at(0)),
        ...take(scope, at(0, 20), { restoredAt: at(0, 40) }),
        ...take(scope, at(0, 59)),
        // Minute 1: 2 issues, one use (a hold taken and given back in minute 2).
        ...take(scope, at(1, 1)),
        ...take(scope, at(1, 2)),
        ...take(scope, at(1, 3), { kind: 'use', restoredAt: at(2, 5) }),
        // At `to` and after: outside the window.
        ...take(scope, at(4)),
        // Another coupon, same minutes.
        ...take('cpn_other', at(0, 30)),
        ...take('cpn_other', at(1, 30), { kind: 'use' }),
      ]);
      // Refusals, in two writes (they add up), one of them for a minute without takes; others outside.
      await refusals.add([
        { couponId: scope, kind: 'issue', minute: at(0), count: 2 },
        { couponId: scope, kind: 'issue', minute: at(3), count: 4 },
        { couponId: scope, kind: 'issue', minute: at(-1), count: 9 },
        { couponId: 'cpn_other', kind: 'issue', minute: at(0), count: 7 },
      ]);
      await refusals.add([
        { couponId: scope, kind: 'issue', minute: at(0), count: 3 },
        { couponId: scope, kind: 'use', minute: at(4), count: 1 },
      ]);

      const statements: string[] = [];
      const rows = await new PostgresLedgerRepository({ db: recording(test, statements) }).activity(scope, new Date(at(0)), new Date(at(4)));
      expect(statements).toHaveLength(1);
      expect(rows).toEqual([
        { minute: new Date(at(0)), kind: 'issue', takes: 3, restores: 1, refusals: 5, netAfter: 3 + 3 - 1 },
        { minute: new Date(at(1)), kind: 'issue', takes: 2, restores: 1, refusals: 0, netAfter: 5 + 2 - 1 },
        { minute: new Date(at(1)), kind: 'use', takes: 1, restores: 0, refusals: 0, netAfter: 1 },
        { minute: new Date(at(2)), kind: 'use', takes: 0, restores: 1, refusals: 0, netAfter: 0 },
        { minute: new Date(at(3)), kind: 'issue', takes: 0, restores: 0, refusals: 4, netAfter: 6 },
      ]);
    });

    it('agrees with the ledger net at the end of the window, and answers nothing for a quiet coupon', async () => {
      const scope = newId('cpn');
      const events = Array.from({ length: 40 }, (_, i) => take(scope, at(i % 7, i), { restoredAt: i % 5 === 0 ? at(i % 7, 59) : undefined })).flat();
      await ledger.append(events);
      const rows = await ledger.activity(scope, new Date(at(-60)), new Date(at(60)));
      expect(rows.at(-1)?.netAfter).toBe((await ledger.net(scope)).issue);
      expect(rows.reduce((n, r) => n + r.takes, 0)).toBe(40);
      expect(rows.reduce((n, r) => n + r.restores, 0)).toBe(8);
      expect(await ledger.activity(newId('cpn'), new Date(at(-60)), new Date(at(60)))).toEqual([]);
    });

    it('adds refusal counts with one statement per batch, however many coupons and minutes', async () => {
      const statements: string[] = [];
      const repo = new PostgresRefusalRepository({ db: recording(test, statements) });
      // 30 coupons × 50 minutes: every key once, as a tally hands them over.
      const counts = Array.from({ length: 1500 }, (_, i) => ({ couponId: `cpn_r${i % 30}`, kind: 'issue', minute: at(Math.floor(i / 30)), count: 1 }));
      await repo.add(counts);
      await repo.add(counts.slice(0, 10));
      // Chunks of 1,000 rows: two statements for the first batch, one for the second.
      expect(statements.filter((s) => s.startsWith('insert into "refusal_counts"'))).toHaveLength(3);
      const rows = await ledger.activity('cpn_r0', new Date(at(0)), new Date(at(60)));
      expect(rows.reduce((n, r) => n + r.refusals, 0)).toBe(50 + 1);
    });
  });
}
