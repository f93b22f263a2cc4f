/**
 * Group commit of the Postgres gauge beyond the contract: several gauges on one database — on
 * PostgreSQL each with its own connection pool, as several service processes would have, on
 * PGlite two on the one embedded database — selling one hot coupon together stay exact (no
 * oversell, no undersell, per-user limits exact, `total − remain = ledger`, one take per key),
 * and a batch whose transaction fails answers none of its takes and leaves nothing behind.
 */
import { and, eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../src/adapters/postgres/db.js';
import { nodePool } from '../src/adapters/postgres/node-pool.js';
import { PostgresGauge } from '../src/adapters/postgres/postgres-gauge.js';
import * as schema from '../src/adapters/postgres/schema.js';
import { gaugeOperations, gauges, ledger } from '../src/adapters/postgres/schema.js';
import { couponPolicy, unlimitedSpec } from '../src/coupon/coupon.js';
import { currentPeriods } from '../src/coupon/deps.js';
import { issueItems } from '../src/coupon/items.js';
import { couponKeys } from '../src/coupon/keys.js';
import type { TakeCommand, TakeResult } from '../src/stock/gauge.js';
import { unique } from './contract/gauge-fixture.js';
import { DATABASES, postgresDb, type TestDb } from './support/db.js';

/** An issue of the coupon to `userId` under `key`, built as `CouponTakes.issue` builds it. */
function issue(couponId: string, userId: string, key: string, fingerprint = 'fp'): TakeCommand {
  const keys = couponKeys(couponId);
  const now = Date.now();
  return {
    prefix: keys.prefix,
    window: 'issue',
    opId: `iss_${unique()}`,
    idempotencyKey: `issue:test:${key}`,
    fingerprint,
    items: issueItems(keys, userId, currentPeriods({}, now)),
    ledger: { scope: couponId, kind: 'issue', subject: userId, ref: null, amount: 1 },
    now,
  };
}

/** A confirmed coupon with an issue stock of `stock` and `perUser` issues per user. */
async function saleCoupon(gauge: PostgresGauge, stock: number, perUser: number): Promise<string> {
  const couponId = `cpn_${unique()}`;
  const keys = couponKeys(couponId);
  const spec = unlimitedSpec('group commit', { issueStock: { total: stock }, perUserIssueLimit: perUser });
  await gauge.setPolicy(keys.prefix, couponPolicy({ ...spec, status: 'confirmed', statusVersion: 0 }));
  await gauge.load([{ key: keys.issue, total: stock, remain: stock }]);
  return couponId;
}

/** The coupon's books: the issue gauge, the ledger's takes per user, its operation records. */
async function books(db: Db, couponId: string) {
  const keys = couponKeys(couponId);
  const [gauge] = await db.select().from(gauges).where(eq(gauges.key, keys.issue));
  const rows = await db.select({ opId: ledger.opId, subject: ledger.subject }).from(ledger).where(and(eq(ledger.scope, couponId), eq(ledger.action, 'take')));
  const [ops] = await db.select({ n: sql<number>`count(*)::int` }).from(gaugeOperations).where(eq(gaugeOperations.prefix, keys.prefix));
  const perUser = new Map<string, number>();
  for (const r of rows) perUser.set(r.subject, (perUser.get(r.subject) ?? 0) + 1);
  return { total: gauge?.total ?? -1, remain: gauge?.remain ?? -1, ledger: rows, perUser, operations: ops?.n ?? -1 };
}

const oks = (results: TakeResult[]) => results.flatMap((r) => (r.ok ? [r] : []));

for (const database of DATABASES) {
  describe(`group commit of several gauges on one ${database.name} database`, () => {
    let test: TestDb;
    const extra: { db: Db; close(): Promise<void> }[] = [];
    let gaugesUnderTest: PostgresGauge[];

    beforeAll(async () => {
      test = await database.open();
      gaugesUnderTest = [new PostgresGauge({ db: test.db })];
      for (let i = 0; i < 2; i++) {
        if (test.url) {
          // Its own pool: another process, as the database sees it.
          const pool = new pg.Pool({ connectionString: test.url, max: 5 });
          extra.push({ db: drizzle({ client: pool, schema }), close: () => pool.end() });
          gaugesUnderTest.push(new PostgresGauge({ db: extra[extra.length - 1]?.db as Db }));
        } else gaugesUnderTest.push(new PostgresGauge({ db: test.db }));
      }
    });
    afterAll(async () => {
      for (const e of extra) await e.close();
      await test.close();
    });

    it('sells one hot coupon exactly: no oversell, no undersell, per-user limits, one take per key, total − remain = ledger', async () => {
      const stock = 60;
      const couponId = await saleCoupon(gaugesUnderTest[0] as PostgresGauge, stock, 2);
      // 80 users ask 4 times each, every request to a gauge by turn; 40 keys are sent to two
      // gauges at once (a client retrying on another process while the first is in flight).
      const requests: { gauge: PostgresGauge; cmd: TakeCommand }[] = [];
      for (let round = 0; round < 4; round++) {
        for (let u = 0; u < 80; u++) {
          const cmd = issue(couponId, `user-${u}`, `k-${u}-${round}`);
          requests.push({ gauge: gaugesUnderTest[(u + round) % gaugesUnderTest.length] as PostgresGauge, cmd });
          if (round === 0 && u < 40) requests.push({ gauge: gaugesUnderTest[(u + 1) % gaugesUnderTest.length] as PostgresGauge, cmd: { ...cmd, opId: `iss_${unique()}` } });
        }
      }
      const results = await Promise.all(requests.map(({ gauge, cmd }) => gauge.take(cmd)));
      const firstTakes = oks(results).filter((r) => !r.replayed);
      const b = await books(test.db, couponId);
      // Demand (80 users × 2 allowed) exceeds the stock: all of it goes, none twice.
      expect(firstTakes).toHaveLength(stock);
      expect(b.remain).toBe(0);
      expect(b.total - b.remain).toBe(b.ledger.length);
      expect(b.ledger.map((r) => r.opId).sort()).toEqual(firstTakes.map((r) => r.opId).sort());
      expect(b.operations).toBe(stock);
      expect(Math.max(...b.perUser.values())).toBeLessThanOrEqual(2);
      // A key sent twice answered one take twice (or was refused), never two takes.
      const byKey = new Map<string, Set<string>>();
      requests.forEach(({ cmd }, i) => {
        const r = results[i];
        if (r?.ok) byKey.set(cmd.idempotencyKey, (byKey.get(cmd.idempotencyKey) ?? new Set()).add(r.opId));
      });
      for (const [key, opIds] of byKey) expect(opIds.size, key).toBe(1);
      // Every refusal is a real one: the stock or the user's limit was used up.
      for (const r of results) if (!r.ok) expect(r).toMatchObject({ reason: 'insufficient' });
      // Each gauge grouped takes into batches.
      const stats = gaugesUnderTest.map((g) => g.batchStats());
      expect(stats.every((s) => s !== null && s.batches > 0)).toBe(true);
      expect(Math.max(...stats.map((s) => s?.size.max ?? 0))).toBeGreaterThan(1);
    });

    it('answers a batch in arrival order: with one unit left, the first of a batch gets it', async () => {
      const couponId = await saleCoupon(gaugesUnderTest[0] as PostgresGauge, 1, 1);
      const gauge = gaugesUnderTest[0] as PostgresGauge;
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => gauge.take(issue(couponId, `first-${i}`, `first-${i}`))));
      expect(results.map((r) => r.ok)).toEqual([true, ...Array.from({ length: 9 }, () => false)]);
    });
  });
}

describe('group commit on PostgreSQL: batches of several processes in flight at once', () => {
  let test: TestDb;
  let admin: pg.Client;
  beforeAll(async () => {
    test = await postgresDb();
    admin = new pg.Client({ connectionString: test.url ?? '' });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await test?.close();
  });

  it('takes a key sent to three processes at once once: the batches that looked before the first committed replay it', async () => {
    const pools = ['a', 'b', 'c'].map((name) => new pg.Pool({ connectionString: test.url ?? '', max: 2, application_name: `group-commit-${name}` }));
    const three = pools.map((pool) => new PostgresGauge({ db: drizzle({ client: pool, schema }) }));
    try {
      const couponId = await saleCoupon(three[0] as PostgresGauge, 100, 2);
      // Every user's counters exist already (a first issue each), so only the key can collide.
      const warm = await Promise.all(Array.from({ length: 30 }, (_, i) => (three[0] as PostgresGauge).take(issue(couponId, `same-${i}`, `warm-${i}`))));
      expect(oks(warm)).toHaveLength(30);
      // Each pool connected beforehand, so each batch reaches the row lock soon.
      await Promise.all(pools.map((pool) => pool.query('select 1')));
      // Hold the stock row until every process's batch has read the keys and waits for the row:
      // all three decide the same keys as new, and two must find them claimed when they write.
      await admin.query('begin');
      await admin.query('select remain from gauges where key = $1 for update', [couponKeys(couponId).issue]);
      const cmds = Array.from({ length: 30 }, (_, i) => issue(couponId, `same-${i}`, `same-${i}`));
      const pending = three.flatMap((gauge) => cmds.map((cmd) => gauge.take({ ...cmd, opId: `iss_${unique()}` })));
      for (let i = 0; i < 400; i++) {
        const { rows } = await admin.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where application_name like 'group-commit-%' and wait_event_type = 'Lock'");
        if ((rows[0]?.n ?? 0) >= 3) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await admin.query('rollback');
      const results = await Promise.all(pending);
      expect(results.filter((r) => !r.ok)).toEqual([]);
      const opIds = new Map<string, Set<string>>();
      results.forEach((r, i) => {
        const key = (cmds[i % cmds.length] as TakeCommand).idempotencyKey;
        if (r.ok) opIds.set(key, (opIds.get(key) ?? new Set()).add(r.opId));
      });
      for (const [key, ids] of opIds) expect(ids.size, key).toBe(1);
      expect(oks(results).filter((r) => !r.replayed)).toHaveLength(30);
      const b = await books(test.db, couponId);
      expect(b.ledger).toHaveLength(60);
      expect(b.operations).toBe(60);
      expect(b.remain).toBe(40);
    } finally {
      for (const pool of pools) await pool.end();
    }
  });

  it('keeps a per-user limit of 1 when one new user asks three processes at once under three keys', async () => {
    const pools = ['g', 'h', 'i'].map((name) => new pg.Pool({ connectionString: test.url ?? '', max: 2, application_name: `group-commit-${name}` }));
    const three = pools.map((pool) => new PostgresGauge({ db: drizzle({ client: pool, schema }) }));
    try {
      const couponId = await saleCoupon(three[0] as PostgresGauge, 100, 1);
      await Promise.all(pools.map((pool) => pool.query('select 1')));
      // The stock row held until all three batches wait for it: each read the users' counters as
      // not made yet before the first batch made them.
      await admin.query('begin');
      await admin.query('select remain from gauges where key = $1 for update', [couponKeys(couponId).issue]);
      const pending = three.flatMap((gauge, g) => Array.from({ length: 20 }, (_, u) => gauge.take(issue(couponId, `new-${u}`, `new-${u}-${g}`))));
      for (let i = 0; i < 400; i++) {
        const { rows } = await admin.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where application_name in ('group-commit-g', 'group-commit-h', 'group-commit-i') and wait_event_type = 'Lock'");
        if ((rows[0]?.n ?? 0) >= 3) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await admin.query('rollback');
      const results = await Promise.all(pending);
      expect(oks(results)).toHaveLength(20);
      for (const r of results) if (!r.ok) expect(r).toEqual({ ok: false, reason: 'insufficient', index: 1 });
      const b = await books(test.db, couponId);
      expect([...b.perUser.values()].every((n) => n === 1)).toBe(true);
      expect(b.perUser.size).toBe(20);
      expect(b.remain).toBe(80);
    } finally {
      for (const pool of pools) await pool.end();
    }
  });

  it('takes a key sent to three processes at once once where no gauge is locked: the claims that lose run the batch again', async () => {
    const pools = ['d', 'e', 'f'].map((name) => new pg.Pool({ connectionString: test.url ?? '', max: 2, application_name: `group-commit-${name}` }));
    const three = pools.map((pool) => new PostgresGauge({ db: drizzle({ client: pool, schema }) }));
    try {
      // No stock and no per-user limit: every item is skipped, so nothing but the key is shared.
      const couponId = `cpn_${unique()}`;
      const { prefix } = couponKeys(couponId);
      await (three[0] as PostgresGauge).setPolicy(prefix, couponPolicy({ ...unlimitedSpec('open code', {}), status: 'confirmed', statusVersion: 0 }));
      await Promise.all(pools.map((pool) => pool.query('select 1')));
      // Every batch waits for the policy, then all decide at once, each finding the keys new.
      await admin.query('begin');
      await admin.query('select open from gauge_policies where prefix = $1 for update', [prefix]);
      const cmds = Array.from({ length: 30 }, (_, i) => issue(couponId, `open-${i}`, `open-${i}`));
      const pending = three.flatMap((gauge) => cmds.map((cmd) => gauge.take({ ...cmd, opId: `iss_${unique()}` })));
      for (let i = 0; i < 400; i++) {
        const { rows } = await admin.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where application_name in ('group-commit-d', 'group-commit-e', 'group-commit-f') and wait_event_type = 'Lock'");
        if ((rows[0]?.n ?? 0) >= 3) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await admin.query('rollback');
      const results = await Promise.all(pending);
      expect(results.filter((r) => !r.ok)).toEqual([]);
      const opIds = new Map<string, Set<string>>();
      results.forEach((r, i) => {
        const key = (cmds[i % cmds.length] as TakeCommand).idempotencyKey;
        if (r.ok) opIds.set(key, (opIds.get(key) ?? new Set()).add(r.opId));
      });
      for (const [key, ids] of opIds) expect(ids.size, key).toBe(1);
      expect(oks(results).filter((r) => !r.replayed)).toHaveLength(30);
      const rows = await test.db.select({ opId: ledger.opId }).from(ledger).where(eq(ledger.scope, couponId));
      expect(rows).toHaveLength(30);
    } finally {
      for (const pool of pools) await pool.end();
    }
  });
});

describe('group commit: a batch whose transaction fails on PostgreSQL', () => {
  let test: TestDb;
  let admin: pg.Client;
  beforeAll(async () => {
    test = await postgresDb();
    admin = new pg.Client({ connectionString: test.url ?? '' });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await test?.close();
  });

  it('answers none of its takes, writes nothing, and its takes retried with their keys take once', async () => {
    const errors: Error[] = [];
    const pool = nodePool({ connectionString: test.url ?? '', max: 4, application_name: 'group-commit-test' }, (e) => void errors.push(e));
    const gauge = new PostgresGauge({ db: drizzle({ client: pool, schema }) });
    try {
      const couponId = await saleCoupon(gauge, 50, 1);
      const keys = couponKeys(couponId);
      // Hold the stock row: the batch locks it and waits; then its connection dies mid-transaction.
      await admin.query('begin');
      await admin.query('select remain from gauges where key = $1 for update', [keys.issue]);
      const cmds = Array.from({ length: 20 }, (_, i) => issue(couponId, `cut-${i}`, `cut-${i}`));
      const pending = cmds.map((cmd) => gauge.take(cmd).then((r) => ({ r }), (error: unknown) => ({ error })));
      let waiting: number | undefined;
      for (let i = 0; i < 200 && waiting === undefined; i++) {
        const { rows } = await admin.query<{ pid: number }>(
          "select pid from pg_stat_activity where application_name = 'group-commit-test' and wait_event_type = 'Lock'",
        );
        waiting = rows[0]?.pid;
        if (waiting === undefined) await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(waiting).toBeDefined();
      await admin.query('select pg_terminate_backend($1)', [waiting]);
      await admin.query('rollback');
      const answers = await Promise.all(pending);
      // The first batch (whichever takes it held) failed as a whole; none of its takes was answered.
      const failed = answers.filter((a) => 'error' in a).length;
      expect(failed).toBeGreaterThan(0);
      const b = await books(test.db, couponId);
      const answered = answers.flatMap((a) => ('r' in a && a.r.ok ? [a.r] : []));
      expect(b.ledger).toHaveLength(answered.length);
      expect(b.total - b.remain).toBe(answered.length);
      expect(b.operations).toBe(answered.length);
      // The clients retry every request with its key: each is taken once, the answered ones replay.
      const retried = await Promise.all(cmds.map((cmd) => gauge.take({ ...cmd, opId: `iss_${unique()}` })));
      expect(retried.every((r) => r.ok)).toBe(true);
      expect(oks(retried).filter((r) => r.replayed)).toHaveLength(answered.length);
      const after = await books(test.db, couponId);
      expect(after.ledger).toHaveLength(20);
      expect(after.remain).toBe(30);
      expect(new Set(after.ledger.map((r) => r.subject)).size).toBe(20);
    } finally {
      await pool.end();
    }
  });
});
