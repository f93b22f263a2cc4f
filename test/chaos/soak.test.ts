/**
 * Soak: a bounded mixed workload on the Redis path for SOAK_SECONDS (default 60). The app is
 * built by createApp with the Redis gauge behind the local Upstash REST endpoint (real
 * redis-server) and the repositories on a real PostgreSQL; ledger events are drained after the
 * response as `npm start` does (onLedgerEvent + DrainThrottle) and the maintenance runs every few
 * seconds alongside. 50 requests in flight: issues and uses (half with an Idempotency-Key),
 * cancels of both (some twice), checkout holds of 1–3 s (committed, released, held again by
 * their owner, or left to run out), replays, syncs and reads, over 20 coupons and 500 users;
 * the public codes spend a money budget and two coupons cap their issues per day.
 *
 * At the end, once every hold has run out and the schedule gave it back, after a final drain
 * and sync of every coupon: every stock and budget has drift 0, no hold is left standing
 * (`total − remain = ledger`), no user is above a per-user limit or used more than they hold
 * (from the ledger, by subject), the acknowledged takes minus the cancels equal the ledger net
 * per coupon and kind, no answer was a 5xx, and the heap did not keep growing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startUpstashRest, type UpstashRest } from '../../scripts/upstash-rest/server.js';
import { PostgresCouponRepository } from '../../src/adapters/postgres/coupon-repository.js';
import { PostgresLedgerRepository } from '../../src/adapters/postgres/ledger-repository.js';
import { coalescedRunner } from '../../src/adapters/redis/coalesce.js';
import { RedisGauge, redisClient } from '../../src/adapters/redis/redis-gauge.js';
import type { CouponDeps } from '../../src/coupon/deps.js';
import { DrainThrottle, drainCoupons } from '../../src/coupon/drain.js';
import { Maintenance, type MaintenanceSummary } from '../../src/coupon/maintenance.js';
import { createApp } from '../../src/http/app.js';
import { postgresDb, type TestDb } from '../support/db.js';
import { HeapWatch, newBook, Pool, prng, Tally, type CouponBook, type Replayable } from './soak-book.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const SEED = Number(process.env.SOAK_SEED ?? Date.now() % 1_000_000);
const IN_FLIGHT = 50;
const COUPONS = 20;
const USERS = 500;
const MAX_REQUESTS = 5_000_000;
const ADMIN = 'soak-admin-token-0123456789';
const CLIENT = 'soak-client-token-0123456789';
const TOKEN = 'soak-upstash-token';

let rest: UpstashRest;

/** As src/node/host.ts: the scripts of one event-loop turn share one request. */
function redisGauge(): RedisGauge {
  const redis = redisClient({ url: rest.url, token: TOKEN });
  return new RedisGauge({ redis, scripts: coalescedRunner({ redis }) });
}
let database: TestDb;
let deps: CouponDeps;
let app: ReturnType<typeof createApp>;
const drains = new Set<Promise<unknown>>();
const unexpected: string[] = [];

beforeAll(async () => {
  rest = await startUpstashRest({ redisUrl: inject('redisUrl'), token: TOKEN });
  database = await postgresDb();
  deps = {
    coupons: new PostgresCouponRepository({ db: database.db }),
    ledger: new PostgresLedgerRepository({ db: database.db }),
    gauges: redisGauge(),
  };
  // As src/node/host.ts: drain a coupon's ledger soon after a take, at most once per interval.
  const throttle = new DrainThrottle();
  deps.onLedgerEvent = (couponId) => {
    if (!throttle.due(couponId, Date.now())) return;
    const drain = new Promise((resolve) => setImmediate(resolve)).then(() => drainCoupons(deps, [couponId]));
    drains.add(drain);
    void drain.finally(() => drains.delete(drain));
  };
  app = createApp({
    tokens: { admin: ADMIN, client: CLIENT },
    info: { runtime: 'node', db: 'postgres' },
    deps: () => ({ deps }),
    // Every request is logged (`request`); anything else the app logs is a store failure or a bug.
    log: (event, fields) => void (event === 'request' || unexpected.push(`${event} ${JSON.stringify(fields)}`)),
  });
}, 120_000);

afterAll(async () => {
  await Promise.all(drains);
  await rest?.close();
  await database?.close();
});

interface Answer {
  status: number;
  text: string;
  json: Record<string, unknown>;
  replayed: boolean;
}

const tally = new Tally();

async function call(method: string, path: string, token: string, body?: Record<string, unknown>, key?: string): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body) headers['content-type'] = 'application/json';
  if (key) headers['idempotency-key'] = key;
  const res = await app.request(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  const json = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  tally.add(res.status, typeof json.code === 'string' ? json.code : undefined);
  return { status: res.status, text, json, replayed: res.headers.get('idempotent-replayed') === 'true' };
}

/** Notes an answer the workload cannot produce (the run fails on any). */
function note(what: string, answer: Answer): void {
  if (unexpected.length < 20) unexpected.push(`${what}: ${answer.status} ${answer.text.slice(0, 200)}`);
}

function expectOneOf(answer: Answer, allowed: string[], what: string): void {
  const name = answer.status >= 400 ? `${answer.status} ${String(answer.json.code)}` : String(answer.status);
  if (!allowed.includes(name)) note(what, answer);
}

async function createCoupons(): Promise<CouponBook[]> {
  const books: CouponBook[] = [];
  for (let i = 0; i < COUPONS; i++) {
    const isPublic = i % 4 === 3;
    // Small stocks sell out early in the run (SOLD_OUT, then cancels give back): sized to the
    // run, about a third of the net takes a coupon sees at the slowest rate measured (~400 req/s
    // on a busy machine: ~9 issues and ~3.5 public uses a second per coupon); large ones do not.
    const small = i % 2 === 1;
    const few = (perSecond: number) => Math.max(20, Math.round(perSecond * SECONDS));
    // Public codes spend a money budget (a small one runs out); two coupons cap issues per day.
    const spec = isPublic
      ? { name: `soak public ${i}`, useStock: { total: small ? few(1.2) : 50_000 }, perUserUseLimit: 3, budget: { total: small ? few(1.2) * 40 : 100_000_000, currency: 'EUR' } }
      : {
          name: `soak ${i}`,
          issueStock: { total: small ? few(3) : 50_000 },
          useStock: { total: small ? few(2) : 50_000 },
          perUserIssueLimit: 2,
          perUserUseLimit: 2,
          ...(i % 8 === 0 ? { issuePeriodStock: { total: 250, period: 'day' } } : {}),
        };
    const created = await call('POST', '/v1/coupons', ADMIN, spec);
    expect(created.status).toBe(201);
    const id = String(created.json.id);
    expect((await call('POST', `/v1/coupons/${id}/confirm`, ADMIN)).status).toBe(200);
    books.push({ ...newBook(id, isPublic, isPublic ? null : 2, isPublic ? 3 : 2), budgeted: isPublic, small });
  }
  return books;
}

const TAKE_OK = ['201', '409 SOLD_OUT', '409 USER_LIMIT_REACHED', '409 NOT_ISSUED', '409 PERIOD_SOLD_OUT', '409 BUDGET_EXHAUSTED'];
/** Holds live 1–3 s: many run out during the run, given back by later takes and the schedule. */
const HOLD_TTL = [1, 2, 3];

/** Counts a take's refusal on its coupon, by code. */
function refusedBy(book: CouponBook, answer: Answer): void {
  if (answer.status !== 409 || typeof answer.json.code !== 'string') return;
  book.refused[answer.json.code] = (book.refused[answer.json.code] ?? 0) + 1;
}

/** One worker: picks operations until the deadline. */
async function worker(n: number, books: CouponBook[], replays: Pool<Replayable>, deadline: number): Promise<void> {
  const rng = prng(SEED * 1000 + n);
  const pickOf = <T>(xs: T[]): T => xs[Math.floor(rng() * xs.length)] as T;
  const issued = books.filter((b) => !b.public);
  let seq = 0;
  const take = async (book: CouponBook, kind: 'issue' | 'use', body: Record<string, unknown>) => {
    const key = rng() < 0.5 ? `soak-${n}-${(seq += 1)}` : undefined;
    const path = `/v1/coupons/${book.id}/${kind}s`;
    const answer = await call('POST', path, CLIENT, body, key);
    expectOneOf(answer, TAKE_OK, `${kind} ${book.id}`);
    refusedBy(book, answer);
    if (answer.status !== 201 || answer.replayed) return;
    book.taken[kind] += 1;
    if (kind === 'issue') book.issues.add({ id: String(answer.json.issueId), user: String(body.userId) });
    else book.uses.add(String(answer.json.useId));
    if (key) replays.add({ path, key, body, first: answer.text });
  };
  const cancel = async (book: CouponBook, kind: 'issue' | 'use', id: string) => {
    const path = `/v1/coupons/${book.id}/${kind}s/${id}/cancel`;
    const answer = await call('POST', path, CLIENT);
    expectOneOf(answer, kind === 'issue' ? ['200', '409 ALREADY_USED'] : ['200'], `cancel ${kind}`);
    if (answer.status !== 200) return;
    book.cancelled[kind] += 1;
    // A second cancel answers the same and gives nothing back.
    if (rng() < 0.2) expectOneOf(await call('POST', path, CLIENT), ['200'], `cancel ${kind} again`);
  };

  const discount = (book: CouponBook) => (book.budgeted ? { discountAmount: 1 + Math.floor(rng() * 100) } : {});
  const holdOp = async (book: CouponBook, userId: string) => {
    const again = rng() < 0.15 ? book.holds.pick(rng) : undefined;
    const owner = again ? again.owner : `cart-${n}-${(seq += 1)}`;
    const body = again ? { userId: again.user, ownerId: owner, ttlSeconds: pickOf(HOLD_TTL), ...(again.discount === null ? {} : { discountAmount: again.discount }) } : { userId, ownerId: owner, ttlSeconds: pickOf(HOLD_TTL), ...discount(book) };
    const answer = await call('POST', `/v1/coupons/${book.id}/holds`, CLIENT, body);
    expectOneOf(answer, TAKE_OK, `hold ${book.id}`);
    refusedBy(book, answer);
    if (answer.status !== 201 || answer.replayed) return;
    book.taken.use += 1;
    book.openHolds += 1;
    book.holds.add({ id: String(answer.json.holdId), user: String(body.userId), owner, discount: typeof body.discountAmount === 'number' ? body.discountAmount : null });
  };
  const settleHold = async (book: CouponBook) => {
    const h = book.holds.take(rng);
    if (!h) return;
    const commit = rng() < 0.6;
    const answer = await call('POST', `/v1/coupons/${book.id}/holds/${h.id}/${commit ? 'commit' : 'release'}`, CLIENT);
    expectOneOf(answer, commit ? ['200', '409 HOLD_EXPIRED'] : ['200'], `${commit ? 'commit' : 'release'} hold`);
    book.openHolds -= 1;
    // Committed: a use for good (it may be cancelled as one). Released or expired: given back once.
    if (commit && answer.status === 200) book.uses.add(h.id);
    else book.cancelled.use += 1;
  };

  while (Date.now() < deadline && tally.total < MAX_REQUESTS) {
    const r = rng();
    const user = `user-${Math.floor(rng() * USERS)}`;
    if (r < 0.06) {
      const book = pickOf(books);
      await holdOp(book, book.public ? user : (book.issues.pick(rng)?.user ?? user));
      continue;
    }
    if (r < 0.1) {
      await settleHold(pickOf(books));
      continue;
    }
    if (r < 0.4) {
      await take(pickOf(issued), 'issue', { userId: user });
    } else if (r < 0.65) {
      const book = pickOf(books);
      const holder = book.public ? user : (book.issues.pick(rng)?.user ?? user);
      await take(book, 'use', { userId: holder, orderId: `order-${n}-${seq}`, ...discount(book) });
    } else if (r < 0.75) {
      const book = pickOf(issued);
      const target = book.issues.take(rng);
      if (target) await cancel(book, 'issue', target.id);
    } else if (r < 0.83) {
      const book = pickOf(books);
      const target = book.uses.take(rng);
      if (target) await cancel(book, 'use', target);
    } else if (r < 0.9) {
      const earlier = replays.pick(rng);
      if (!earlier) continue;
      const other = rng() < 0.1;
      const answer = await call('POST', earlier.path, CLIENT, other ? { ...earlier.body, userId: `${String(earlier.body.userId)}-x` } : earlier.body, earlier.key);
      if (other) expectOneOf(answer, ['409 IDEMPOTENCY_KEY_REUSED'], 'reused key');
      else if (answer.status !== 201 || !answer.replayed || answer.text !== earlier.first) note('replay differs from the first answer', answer);
    } else if (r < 0.92) {
      expectOneOf(await call('POST', `/v1/coupons/${pickOf(books).id}/stocks/sync`, ADMIN), ['200'], 'sync');
    } else if (r < 0.96) {
      expectOneOf(await call('GET', `/v1/coupons/${pickOf(books).id}/stocks/live`, CLIENT), ['200'], 'live');
    } else {
      expectOneOf(await call('GET', `/v1/users/${user}/coupons`, CLIENT), ['200'], 'holdings');
    }
  }
}

/** Every subject's net per kind for a coupon, from the ledger. */
async function netsBySubject(couponId: string): Promise<{ subject: string; net: Record<string, number> }[]> {
  const all: { subject: string; net: Record<string, number> }[] = [];
  for (let after: string | null = null; ; ) {
    const page = await deps.ledger.netBySubject(couponId, after, 500);
    all.push(...page);
    if (page.length < 500) return all;
    after = page[page.length - 1]?.subject ?? null;
  }
}

describe('soak on the Redis path', () => {
  it(`holds a mixed load for ${SECONDS} s with drift 0, limits kept, every take accounted for, and a flat heap`, { timeout: SECONDS * 1000 + 300_000 }, async () => {
    const books = await createCoupons();
    const replays = new Pool<Replayable>(500);
    const heap = new HeapWatch();
    const maintenance = new Maintenance(deps);
    const summaries: MaintenanceSummary[] = [];
    let running = true;
    const maintainer = (async () => {
      while (running) {
        await new Promise((r) => setTimeout(r, 3_000));
        summaries.push(await maintenance.run());
      }
    })();

    heap.start(2_000);
    const started = Date.now();
    const before = tally.total;
    await Promise.all(Array.from({ length: IN_FLIGHT }, (_, n) => worker(n, books, replays, started + SECONDS * 1000)));
    const seconds = (Date.now() - started) / 1000;
    const requests = tally.total - before;
    heap.stop();
    running = false;
    await maintainer;
    // Every hold still open runs out within its 3 s; the schedule gives each back once.
    await new Promise((r) => setTimeout(r, 3_100));
    summaries.push(await maintenance.run());
    for (const book of books) {
      book.cancelled.use += book.openHolds;
      book.openHolds = 0;
    }
    await Promise.all(drains);

    // Final drain and sync of every coupon: the books must balance.
    for (const book of books) {
      const sync = await call('POST', `/v1/coupons/${book.id}/stocks/sync`, ADMIN);
      expect(sync.status).toBe(200);
      const report = sync.json as { missing: string[]; drifted: string[]; budget?: { total: number; remain: number; ledger: number; drift: number } } & Record<'issue' | 'use', { total: number; remain: number; ledger: number; drift: number } | null>;
      expect(report.missing, book.id).toEqual([]);
      expect(report.drifted, book.id).toEqual([]);
      expect((await call('GET', `/v1/coupons/${book.id}/stocks/live`, CLIENT)).json.holds, `${book.id}: no hold left standing`).toBeUndefined();
      if (book.budgeted) {
        expect(report.budget, `${book.id} budget`).toMatchObject({ drift: 0 });
        expect(report.budget?.remain).toBeGreaterThanOrEqual(0);
        expect((report.budget?.total ?? 0) - (report.budget?.remain ?? 0)).toBe(report.budget?.ledger);
      }
      const net = await deps.ledger.net(book.id);
      for (const kind of ['issue', 'use'] as const) {
        const stock = report[kind];
        const expected = book.taken[kind] - book.cancelled[kind];
        expect(net[kind] ?? 0, `${book.id} ${kind}: 201s − cancels = ledger net`).toBe(expected);
        if (!stock) continue;
        expect(stock.total - stock.remain, `${book.id} ${kind}: total − remain = ledger`).toBe(stock.ledger);
        expect(stock.drift).toBe(0);
        expect(stock.remain).toBeGreaterThanOrEqual(0);
        expect(stock.ledger).toBe(expected);
      }
      for (const { subject, net: n } of await netsBySubject(book.id)) {
        const [issued, usedNet] = [n.issue ?? 0, n.use ?? 0];
        if (book.perUserIssueLimit !== null) expect(issued, `${subject} issue`).toBeLessThanOrEqual(book.perUserIssueLimit);
        expect(usedNet, `${subject} use`).toBeLessThanOrEqual(book.perUserUseLimit);
        if (!book.public) expect(usedNet, `${subject} used more than it holds`).toBeLessThanOrEqual(issued);
        expect(Math.min(issued, usedNet), subject).toBeGreaterThanOrEqual(0);
      }
    }

    const { first, last } = heap.thirds();
    const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
    const takes = books.reduce((s, b) => s + b.taken.issue + b.taken.use, 0);
    const cancels = books.reduce((s, b) => s + b.cancelled.issue + b.cancelled.use, 0);
    console.log(
      `soak: ${requests} requests in ${seconds.toFixed(1)} s = ${(requests / seconds).toFixed(0)} req/s, ${IN_FLIGHT} in flight, ` +
        `${COUPONS} coupons, ${USERS} users, seed ${SEED}; ${takes} takes, ${cancels} cancels; maintenance runs ${summaries.length} ` +
        `(drift seen mid-load, takes landing between its drain and its read: ${summaries.reduce((n, s) => n + s.drifted.length, 0)} coupon syncs); ` +
        `heap (after GC: ${heap.collected}) first third ${mb(first)} MB, last third ${mb(last)} MB; ` +
        `small stocks refused (SOLD_OUT/BUDGET_EXHAUSTED): ${books.filter((b) => b.small).map((b) => (b.refused.SOLD_OUT ?? 0) + (b.refused.BUDGET_EXHAUSTED ?? 0)).join(', ')}; answers ${JSON.stringify(tally)}`,
    );
    expect(unexpected).toEqual([]);
    expect(tally.serverErrors()).toBe(0);
    expect(summaries.flatMap((s) => [...s.failed, ...s.rebuilt, ...s.missing])).toEqual([]);
    expect(requests).toBeGreaterThan(SECONDS * 50); // the load was real: at least 50 requests a second
    // Every small stock sold out during the run: the sell-out path ran under load on each.
    for (const book of books.filter((b) => b.small)) {
      const soldOut = (book.refused.SOLD_OUT ?? 0) + (book.refused.BUDGET_EXHAUSTED ?? 0);
      expect(soldOut, `${book.id} (small${book.public ? ', public' : ''}) never sold out: ${JSON.stringify(book.refused)}`).toBeGreaterThan(0);
    }
    // A flat heap. The workload keeps bounded books (pools of at most 500) and the app keeps
    // nothing per request, so after a full collection the last third of the run may hold only
    // what warm-up left growing (runs measured +1.6 to +3.6 MB on ~33 MB): allow 15 % plus 4 MB.
    // A leak of L bytes a request over N requests puts about 2/3 × L × N between the thirds, so
    // a few hundred bytes a request at 25,000–40,000 requests exceeds it: 1 KB a request (put in
    // the app by hand) went 33.0 → 47.3 MB and failed here, where the former bound, twice the
    // heap, passed it. Without --expose-gc the samples carry garbage: only that loose bound applies.
    if (heap.collected) expect(last, 'heap grew during the run').toBeLessThan(first * 1.15 + 4 * 1024 * 1024);
    else expect(last / first, 'heap grew without bound').toBeLessThan(2);
  });
});
