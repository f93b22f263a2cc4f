/**
 * The drain election against a real redis-server (through the local Upstash REST endpoint, as a
 * Worker reaches it) and a real PostgreSQL ledger: one drainer per scope at a time however many
 * gauges ("isolates") take at once, a dead drainer replaced when its lease runs out, a drainer
 * that lost its lease stopped, and concurrent drainers that never hand an event to Postgres
 * twice and never forget one before Postgres committed it.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PostgresLedgerRepository } from '../src/adapters/postgres/ledger-repository.js';
import { ledger as ledgerTable } from '../src/adapters/postgres/schema.js';
import { RedisGauge, redisClient } from '../src/adapters/redis/redis-gauge.js';
import { drainElected } from '../src/coupon/drain.js';
import type { CouponDeps } from '../src/coupon/deps.js';
import type { LedgerEvent, TakeResult } from '../src/stock/gauge.js';
import { startUpstashRest } from '../scripts/upstash-rest/server.js';
import { freshScope, opIdOf, type Scope } from './contract/gauge-fixture.js';
import { postgresDb, type TestDb } from './support/db.js';
import { eq } from 'drizzle-orm';

const TOKEN = 'drain-election-token';
let rest: Awaited<ReturnType<typeof startUpstashRest>>;
let pg: TestDb;

beforeAll(async () => {
  [rest, pg] = await Promise.all([startUpstashRest({ redisUrl: inject('redisUrl'), token: TOKEN }), postgresDb()]);
}, 60_000);
afterAll(async () => {
  await rest?.close();
  await pg?.close();
});

const client = () => redisClient({ url: rest.url, token: TOKEN, retries: 0 });
/** A gauge as one Worker isolate has it: its own client, takes electing under a lease of `leaseMs`. */
const isolate = (leaseMs = 10_000) => new RedisGauge({ redis: client(), drainLeaseMs: leaseMs });
/** The operation ids of the events waiting in the scope's stream. */
async function streamOps(s: Scope): Promise<string[]> {
  const entries = (await client().xrange(`${s.prefix}ledger`, '-', '+')) as unknown as [string, string[]][];
  return entries.map(([, fields]) => String(fields[fields.indexOf('o') + 1]));
}
const ledgerOps = async (s: Scope) =>
  (await pg.db.select({ opId: ledgerTable.opId }).from(ledgerTable).where(eq(ledgerTable.scope, s.prefix))).map((r) => r.opId);

/** Coupon deps over `gauge` and the real ledger, with every batch handed to Postgres recorded. */
function depsOf(gauge: RedisGauge, appended: string[][] = []): CouponDeps {
  const repo = new PostgresLedgerRepository({ db: pg.db });
  return {
    gauges: gauge,
    ledger: Object.assign(Object.create(repo) as PostgresLedgerRepository, {
      append: async (events: LedgerEvent[]) => {
        appended.push(events.map((e) => e.opId));
        await repo.append(events);
      },
    }),
  } as unknown as CouponDeps;
}

const elected = (results: TakeResult[]) => results.filter((r) => r.ok && r.drain);

describe('drain election', () => {
  it('elects one drainer per scope however many isolates take at once; none without a lease setting', async () => {
    const gauges = Array.from({ length: 8 }, () => isolate());
    const s = await freshScope(gauges[0]!, 1_000, { open: true, version: 0, windows: { sell: { start: null, end: null } }, limits: { stock: 0, perUser: 1_000 } });
    const takes = await Promise.all(Array.from({ length: 200 }, (_, i) => takeOn(gauges[i % 8]!, s, `u${i}`)));
    expect(takes.every((t) => t.ok)).toBe(true);
    expect(elected(takes)).toHaveLength(1);
    // The same script, on a gauge built without a lease: nobody is elected.
    const plain = await freshScope(new RedisGauge({ redis: client() }), 10);
    const result = await plain.take({ user: 'p' });
    expect(result.ok && result.drain).toBeFalsy();
  });

  it('drains once per round while takes come, then gives the lease up: the next take is elected', async () => {
    const g = isolate();
    const s = await freshScope(g, 100);
    const first = await s.take({ user: 'a' });
    const duty = first.ok ? first.drain : undefined;
    expect(duty).toEqual({ holder: opIdOf(first) });
    expect(elected(await Promise.all(['b', 'c'].map((user) => s.take({ user }))))).toHaveLength(0);
    const appended: string[][] = [];
    // Round 1 moves the three events; round 2 finds the stream empty and gives the lease up.
    const done = await drainElected(depsOf(g, appended), scopeId(s), duty!, { intervalMs: 0 });
    expect(done).toMatchObject({ moved: 3, rounds: 2 });
    expect(appended).toHaveLength(1);
    expect((await ledgerOps(s)).sort()).toEqual(appended[0]!.sort());
    expect(await streamOps(s)).toHaveLength(0);
    const next = await s.take({ user: 'd' });
    expect(next.ok && next.drain).toEqual({ holder: opIdOf(next) });
  });

  it('a stopping host runs its drainer\'s last round at once and gives the lease up', async () => {
    const g = isolate();
    const s = await freshScope(g, 100);
    const first = await s.take({ user: 'a' });
    await s.take({ user: 'b' });
    let waits = 0;
    const wait = () => {
      waits += 1;
      return Promise.resolve();
    };
    const done = await drainElected(depsOf(g), scopeId(s), first.ok ? first.drain! : { holder: '' }, { wait, stopping: () => true });
    expect(done).toMatchObject({ moved: 2, rounds: 1 });
    expect(waits).toBe(0);
    // The lease went with the last read: another host's next take is elected at once.
    const next = await isolate().take({ prefix: s.prefix, window: 'sell', opId: 'op_next', idempotencyKey: 'k-next', fingerprint: 'fp', items: s.items('c'), ledger: { scope: s.prefix, kind: 'sell', subject: 'c', ref: null, amount: 1 }, now: Date.now() });
    expect(next.ok && next.drain).toEqual({ holder: 'op_next' });
  });

  it('a restore that gives back is elected too when nobody drains', async () => {
    const g = isolate(200);
    const s = await freshScope(g, 10);
    const taken = await s.take({ user: 'r' });
    await new Promise((r) => setTimeout(r, 250)); // the take's lease runs out: its drainer "died"
    const restored = await s.restore(opIdOf(taken));
    expect(restored.ok && restored.drain).toEqual({ holder: `${opIdOf(taken)}:restore` });
  });

  it('a commit that gives an expired hold back is elected too when nobody drains', async () => {
    const g = isolate(100);
    const s = await freshScope(g, 10);
    const now = Date.now();
    const held = await s.take({ user: 'h', hold: { expiresAt: now + 50 } });
    await new Promise((r) => setTimeout(r, 150)); // the hold's own lease runs out
    const commit = await g.commit({ prefix: s.prefix, opId: opIdOf(held), now: now + 1_000 });
    expect(commit).toEqual({ ok: false, reason: 'expired', drain: { holder: `${opIdOf(held)}:expired` } });
    // Elected once: a second look finds it given back already, with nothing new to drain.
    expect(await g.commit({ prefix: s.prefix, opId: opIdOf(held), now: now + 2_000 })).toEqual({ ok: false, reason: 'expired' });
  });

  it('replaces a drainer that died when its lease runs out, and the one that lost it stops', async () => {
    const g = isolate(300);
    const s = await freshScope(g, 100);
    const dead = await s.take({ user: 'a' });
    expect(dead.ok && dead.drain).toBeTruthy();
    // Inside the lease nobody else is elected, ...
    expect(elected(await Promise.all(['b', 'c'].map((user) => s.take({ user }))))).toHaveLength(0);
    // ... after it the next take is.
    await new Promise((r) => setTimeout(r, 350));
    const heir = await s.take({ user: 'd' });
    expect(heir.ok && heir.drain).toBeTruthy();
    // The old drainer wakes up: another holds the lease, so it reads nothing and stops.
    const appended: string[][] = [];
    const stale = await drainElected(depsOf(g, appended), scopeId(s), dead.ok ? dead.drain! : { holder: '' }, { intervalMs: 0 });
    expect(stale).toMatchObject({ moved: 0, rounds: 1 });
    expect(appended).toHaveLength(0);
    const heirs = await drainElected(depsOf(g, appended), scopeId(s), heir.ok ? heir.drain! : { holder: '' }, { intervalMs: 0 });
    expect(heirs.moved).toBe(4);
  });

  it('keeps events whose write failed in the stream: the next drainer moves them', async () => {
    const g = isolate(10_000);
    const s = await freshScope(g, 100);
    const first = await s.take({ user: 'a' });
    const failing = { ...depsOf(g), ledger: { append: () => Promise.reject(new Error('postgres is down')) } } as unknown as CouponDeps;
    const failed = await drainElected(failing, scopeId(s), first.ok ? first.drain! : { holder: '' }, { intervalMs: 0 });
    expect(String(failed.error)).toContain('postgres is down');
    expect(await streamOps(s)).toHaveLength(1);
    // The failed drainer's lease stands (a store that is down is not hammered); once it is
    // gone, the next take is elected and moves both events.
    await client().del(`${s.prefix}drain`);
    const second = await s.take({ user: 'b' });
    const moved = await drainElected(depsOf(g), scopeId(s), second.ok ? second.drain! : { holder: '' }, { intervalMs: 0 });
    expect(moved.moved).toBe(2);
    expect(await ledgerOps(s)).toHaveLength(2);
  });

  it('many isolates taking and draining at once: every event handed to Postgres once, never forgotten before its commit', async () => {
    const gauges = Array.from({ length: 6 }, () => isolate());
    const s = await freshScope(gauges[0]!, 5_000, { open: true, version: 0, windows: { sell: { start: null, end: null } }, limits: { stock: 0, perUser: 5_000 } });
    const appended: string[][] = [];
    const answered = new Set<string>();
    const drainers: Promise<unknown>[] = [];
    let stop = false;
    // Between a read of the stream and a later read of the ledger, every answered take must be in
    // one of them: an event deleted before its commit would be in neither.
    const audits: number[] = [];
    const auditor = (async () => {
      while (!stop) {
        const before = new Set(answered);
        const inStream = new Set(await streamOps(s));
        const inLedger = new Set(await ledgerOps(s));
        audits.push([...before].filter((op) => !inStream.has(op) && !inLedger.has(op)).length);
      }
    })();
    await Promise.all(
      gauges.map(async (g, i) => {
        for (let n = 0; n < 60; n++) {
          const result = await takeOn(g, s, `u${i}-${n}`);
          answered.add(opIdOf(result));
          if (result.ok && result.drain) drainers.push(drainElected(depsOf(g, appended), scopeId(s), result.drain, { intervalMs: 20 }));
          if (n % 10 === 0) await new Promise((r) => setTimeout(r, 15));
        }
      }),
    );
    stop = true;
    await auditor;
    await Promise.all(drainers);
    // The tail: whatever a drainer left (it gave its lease up with an empty read) elected the next one.
    const handed = appended.flat();
    expect(new Set(handed).size, 'no event was handed to Postgres twice').toBe(handed.length);
    expect(handed.sort()).toEqual([...answered].sort());
    expect((await ledgerOps(s)).sort()).toEqual([...answered].sort());
    expect(await streamOps(s)).toHaveLength(0);
    expect(drainers.length, 'drainers elected').toBeLessThan(answered.size / 4);
    expect(audits.length).toBeGreaterThan(0);
    expect(Math.max(...audits), 'answered takes in neither the stream nor the ledger').toBe(0);
  });
});

/** The coupon id whose keys live under the scope's prefix (`cs:{c:<id>}:`). */
const scopeId = (s: Scope) => s.prefix.slice('cs:{c:'.length, -'}:'.length);

async function takeOn(g: RedisGauge, s: Scope, user: string): Promise<TakeResult> {
  return g.take({
    prefix: s.prefix,
    window: 'sell',
    opId: `op_${user}_${Math.random().toString(36).slice(2)}`,
    idempotencyKey: `k-${user}-${Math.random().toString(36).slice(2)}`,
    fingerprint: 'fp',
    items: s.items(user),
    ledger: { scope: s.prefix, kind: 'sell', subject: user, ref: null, amount: 1 },
    now: Date.now(),
  });
}
