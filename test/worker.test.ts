/**
 * The built Worker in workerd (Miniflare) against a real Redis (through the local Upstash REST
 * endpoint) and a real PostgreSQL (through the Neon WebSocket proxy): the production path.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { refusalCounts } from '../src/adapters/postgres/schema.js';
import { verifyWebhook } from '../src/events/signature.js';
import { takeRequests } from './support/take-requests.js';
import { CLIENT, startWorkerStack, type WorkerStack } from './support/worker-stack.js';

let stack: WorkerStack;

beforeAll(async () => {
  // The local REST endpoint runs in this test's own Node process: under the 2,000-take burst below,
  // on a busy 2-core machine, answers queue there for seconds, past the 300 ms take deadline and
  // the client's 5 s abort, so takes that ran in Redis answer 503 (measured: all 50 winners, with
  // 924 SOLD_OUT). Deadlines are test/deadlines.test.ts's subject; here the store gets 30 s, so the
  // burst shows what it is for: no oversell, one ledger event each.
  stack = await startWorkerStack({ TAKE_TIMEOUT_MS: '30000', STORE_TIMEOUT_MS: '30000', SOLD_OUT_MEMO_MS: '1000' });
}, 120_000);
afterAll(async () => {
  await stack?.close();
});

type Json = Record<string, unknown>;
const json = async (res: Response) => (await res.json()) as Json;

/** Waits until the real clock (workerd's too) is past `ms`: a condition, not a guess at a delay. */
async function until(ms: number): Promise<void> {
  while (Date.now() <= ms) await new Promise((r) => setTimeout(r, ms - Date.now() + 1));
}

async function createConfirmed(body: Json): Promise<string> {
  const created = await stack.call('POST', '/v1/coupons', { body });
  expect(created.status).toBe(201);
  const id = String((await json(created)).id);
  const confirmed = await stack.call('POST', `/v1/coupons/${id}/confirm`);
  expect(confirmed.status).toBe(200);
  return id;
}

describe('worker in workerd', () => {
  it('reports workerd with Redis gauges and Postgres', async () => {
    const res = await stack.call('GET', '/health', { token: null });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ status: 'ok', runtime: 'workerd', gauges: 'redis', db: 'postgres' });
  });

  it('runs a whole flash sale: issue, use, cancel, sync', async () => {
    const id = await createConfirmed({ name: 'flash', issueStock: { total: 3 }, useStock: { total: 2 }, perUserIssueLimit: 1 });
    const issue = (userId: string, key: string) =>
      stack.call('POST', `/v1/coupons/${id}/issues`, { token: CLIENT, body: { userId }, headers: { 'idempotency-key': key } });

    const a = await issue('alice', 'a-1');
    expect(a.status).toBe(201);
    const issued = await json(a);
    expect(issued).toMatchObject({ couponId: id, userId: 'alice', remain: 2 });
    const replay = await issue('alice', 'a-1');
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await json(replay)).toEqual(issued);
    expect(await json(await issue('alice', 'a-2'))).toMatchObject({ code: 'USER_LIMIT_REACHED' });
    expect((await issue('bob', 'b-1')).status).toBe(201);
    expect((await issue('carol', 'c-1')).status).toBe(201);
    const soldOut = await issue('dave', 'd-1');
    expect(soldOut.status).toBe(409);
    expect(await json(soldOut)).toMatchObject({ code: 'SOLD_OUT' });

    const use = await stack.call('POST', `/v1/coupons/${id}/uses`, { token: CLIENT, body: { userId: 'alice', orderId: 'o-1' } });
    expect(use.status).toBe(201);
    const used = await json(use);
    expect(used).toMatchObject({ userId: 'alice', remain: 1 });
    const notIssued = await stack.call('POST', `/v1/coupons/${id}/uses`, { token: CLIENT, body: { userId: 'dave' } });
    expect(await json(notIssued)).toMatchObject({ code: 'NOT_ISSUED' });
    const cancelIssueOfUsed = await stack.call('POST', `/v1/coupons/${id}/issues/${String(issued.issueId)}/cancel`, { token: CLIENT });
    expect(await json(cancelIssueOfUsed)).toMatchObject({ code: 'ALREADY_USED' });
    const cancelUse = await stack.call('POST', `/v1/coupons/${id}/uses/${String(used.useId)}/cancel`, { token: CLIENT });
    expect(await json(cancelUse)).toMatchObject({ status: 'cancelled', remain: 2, orderId: 'o-1' });
    const cancelIssue = await stack.call('POST', `/v1/coupons/${id}/issues/${String(issued.issueId)}/cancel`, { token: CLIENT });
    expect(await json(cancelIssue)).toMatchObject({ status: 'cancelled', remain: 1 });

    const live = await stack.call('GET', `/v1/coupons/${id}/stocks/live`, { token: CLIENT });
    expect(await json(live)).toEqual({ issue: { total: 3, remain: 1 }, use: { total: 2, remain: 2 } });
    const sync = await json(await stack.call('POST', `/v1/coupons/${id}/stocks/sync`));
    expect(sync).toMatchObject({
      issue: { total: 3, remain: 1, ledger: 2, drift: 0, live: true },
      use: { total: 2, remain: 2, ledger: 0, drift: 0, live: true },
      drifted: [],
      missing: [],
    });
    const holdings = await json(await stack.call('GET', '/v1/users/alice/coupons', { token: CLIENT }));
    expect(holdings).toMatchObject({ userId: 'alice', coupons: [{ couponId: id, issued: 0, used: 0, cancelled: 2 }] });
  });

  it('takes in exactly one request to the REST endpoint, and touches no Postgres', async () => {
    const id = await createConfirmed({ name: 'one trip', issueStock: { total: 10 } });
    await stack.call('POST', `/v1/coupons/${id}/issues`, { token: CLIENT, body: { userId: 'warm' } });
    stack.rest.resetStats();
    const res = await stack.call('POST', `/v1/coupons/${id}/issues`, { token: CLIENT, body: { userId: 'u1' } });
    expect(res.status).toBe(201);
    // One request holding one command (EVALSHA of the take); a drain may follow the response.
    expect(takeRequests(stack.rest.stats)).toEqual([[expect.stringMatching(/^EVALSHA /)]]);
  });

  it('serves reads and /health without a Postgres session per request: statements go over HTTP, /health is cached', async () => {
    const id = await createConfirmed({ name: 'reads', issueStock: { total: 10 } });
    expect((await stack.call('POST', `/v1/coupons/${id}/issues`, { token: CLIENT, body: { userId: 'reader' } })).status).toBe(201);
    await stack.call('POST', `/v1/coupons/${id}/stocks/sync`);
    const reads = () => [
      stack.call('GET', `/v1/coupons/${id}`),
      stack.call('GET', '/v1/users/reader/coupons', { token: CLIENT }),
      stack.call('GET', '/health', { token: null }),
    ];
    const round = async () => {
      const answers = await Promise.all(Array.from({ length: 5 }, reads).flat());
      expect(answers.map((r) => r.status)).toEqual(answers.map(() => 200));
    };
    // Warm: the HTTP endpoint's pool opens its connections; give PostgreSQL a moment to count them.
    await round();
    await new Promise((r) => setTimeout(r, 1_200));
    const before = await stack.sessionsOpened();
    const rounds = 20;
    for (let i = 0; i < rounds; i++) await round();
    // Pooled connections report their connect within a second of activity, and at exit (2 s idle).
    await new Promise((r) => setTimeout(r, 2_500));
    const opened = (await stack.sessionsOpened()) - before;
    const requests = rounds * 15;
    console.log(`worker reads: ${requests} requests opened ${opened} Postgres sessions (${(opened / requests).toFixed(3)} per request)`);
    expect(opened / requests).toBeLessThanOrEqual(0.05);
    const holdings = await json(await stack.call('GET', '/v1/users/reader/coupons', { token: CLIENT }));
    expect(holdings).toMatchObject({ coupons: [{ couponId: id, issued: 1 }] });
    expect(await json(await stack.call('GET', `/v1/coupons/${id}`))).toMatchObject({ id, issueStock: { total: 10, remain: 9 } });
  });

  it('caps a day within the stock: PERIOD_SOLD_OUT, with the day in the live numbers', async () => {
    const id = await createConfirmed({ name: 'daily', issueStock: { total: 10 }, issuePeriodStock: { total: 2, period: 'day' } });
    for (const userId of ['d1', 'd2']) expect((await stack.call('POST', `/v1/coupons/${id}/issues`, { token: CLIENT, body: { userId } })).status).toBe(201);
    const refused = await stack.call('POST', `/v1/coupons/${id}/issues`, { token: CLIENT, body: { userId: 'd3' } });
    expect(refused.status).toBe(409);
    expect(await json(refused)).toMatchObject({ code: 'PERIOD_SOLD_OUT' });
    const live = await json(await stack.call('GET', `/v1/coupons/${id}/stocks/live`, { token: CLIENT }));
    expect(live).toMatchObject({ issue: { total: 10, remain: 8 }, issuePeriod: { total: 2, remain: 0, period: 'day', label: new Date().toISOString().slice(0, 10) } });
  });

  it('spends a money budget in the take, refuses past it, gives it back on cancel, and syncs with drift 0', async () => {
    const id = await createConfirmed({ name: 'budget', useStock: { total: 10 }, budget: { total: 1_000, currency: 'EUR' } });
    const spend = (userId: string, discountAmount: number) => stack.call('POST', `/v1/coupons/${id}/uses`, { token: CLIENT, body: { userId, discountAmount } });
    const first = await spend('m1', 600);
    expect(first.status).toBe(201);
    const used = await json(first);
    expect(used).toMatchObject({ remain: 9, budgetRemain: 400 });
    expect(await json(await spend('m2', 500))).toMatchObject({ code: 'BUDGET_EXHAUSTED' });
    expect((await spend('m2', 400)).status).toBe(201);
    await stack.call('POST', `/v1/coupons/${id}/uses/${String(used.useId)}/cancel`, { token: CLIENT });
    const sync = await json(await stack.call('POST', `/v1/coupons/${id}/stocks/sync`));
    expect(sync).toMatchObject({ budget: { total: 1_000, remain: 600, ledger: 400, drift: 0 }, drifted: [] });
  });

  it('holds a use, replays it for its owner, commits one and lets the Cron Trigger expire none it should not', async () => {
    const id = await createConfirmed({ name: 'holds', useStock: { total: 2 } });
    const holdFor = (userId: string, ownerId: string, ttlSeconds: number) =>
      stack.call('POST', `/v1/coupons/${id}/holds`, { token: CLIENT, body: { userId, ownerId, ttlSeconds } });
    const first = await holdFor('x1', 'order-x1', 600);
    expect(first.status).toBe(201);
    const held = await json(first);
    expect(held).toMatchObject({ userId: 'x1', ownerId: 'order-x1', remain: 1 });
    const again = await holdFor('x1', 'order-x1', 600);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await json(again)).toEqual(held);
    const short = await json(await holdFor('x2', 'order-x2', 1));
    expect(await json(await holdFor('x3', 'order-x3', 600))).toMatchObject({ code: 'SOLD_OUT' });
    const commit = await stack.call('POST', `/v1/coupons/${id}/holds/${String(held.holdId)}/commit`, { token: CLIENT });
    expect(await json(commit)).toMatchObject({ status: 'committed', useId: held.holdId });
    await until(Date.parse(String(short.expiresAt))); // the short hold's time runs out
    await stack.scheduled();
    expect(await json(await stack.call('GET', `/v1/coupons/${id}/stocks/live`, { token: CLIENT }))).toMatchObject({ use: { total: 2, remain: 1 } });
    expect(await json(await stack.call('POST', `/v1/coupons/${id}/holds/${String(short.holdId)}/commit`, { token: CLIENT }))).toMatchObject({ code: 'HOLD_EXPIRED' });
    const sync = await json(await stack.call('POST', `/v1/coupons/${id}/stocks/sync`));
    expect(sync).toMatchObject({ use: { total: 2, remain: 1, ledger: 1, drift: 0 } });
  });

  it('delivers a signed webhook from the Cron Trigger when a stock sells out', async () => {
    const seen: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        seen.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const created = await json(await stack.call('POST', '/v1/webhooks', { body: { url, events: ['stock.sold_out'] } }));
      const id = await createConfirmed({ name: 'hooked', issueStock: { total: 1 } });
      expect((await stack.call('POST', `/v1/coupons/${id}/issues`, { token: CLIENT, body: { userId: 'h1' } })).status).toBe(201);
      await stack.scheduled();
      const hook = seen.find((s) => (JSON.parse(s.body) as { data: { couponId: string } }).data.couponId === id);
      expect(hook?.headers['coupon-stock-event']).toBe('stock.sold_out');
      expect(await verifyWebhook(String(created.secret), String(hook?.headers['coupon-stock-signature']), hook?.body ?? '', Date.now())).toBe(true);
      await stack.call('DELETE', `/v1/webhooks/${String(created.id)}`);
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }
  });

  it('issues a batch in one request to the REST endpoint per chunk of 100 takes, one command each', async () => {
    const id = await createConfirmed({ name: 'bulk', issueStock: { total: 120 }, perUserIssueLimit: 1 });
    await stack.call('POST', `/v1/coupons/${id}/issues`, { token: CLIENT, body: { userId: 'warm' } });
    stack.rest.resetStats();
    const userIds = Array.from({ length: 250 }, (_, i) => `bulk-${i}`);
    const send = () => stack.call('POST', `/v1/coupons/${id}/issues:batch`, { token: CLIENT, body: { userIds }, headers: { 'idempotency-key': 'w-bulk' } });
    const res = await send();
    expect(res.status).toBe(200);
    const report = await json(res);
    expect(report).toMatchObject({ issued: 119, refused: 131 });
    expect(takeRequests(stack.rest.stats).map((commands) => commands.length)).toEqual([100, 100, 50]);
    const again = await json(await send());
    expect(again).toMatchObject({ issued: 119, refused: 131 });
    expect((again.results as Json[]).filter((r) => r.replayed === true)).toHaveLength(119);
    const sync = await json(await stack.call('POST', `/v1/coupons/${id}/stocks/sync`));
    expect(sync).toMatchObject({ issue: { total: 120, remain: 0, ledger: 120, drift: 0 } });
  });

  it('sells exactly the stock to thousands of concurrent takes, one ledger event each', { timeout: 120_000 }, async () => {
    const id = await createConfirmed({ name: 'rush', issueStock: { total: 50 } });
    // Each client is a correct one: its take carries an Idempotency-Key, and a request that got
    // no definite answer — the local transport dropped it (a burst of 2,000 connections to
    // workerd on a busy machine resets some), or a 503 because the take missed its deadline — is
    // sent again with the same key, so it can never take twice.
    const take = async (i: number) => {
      for (let attempt = 1; ; attempt++) {
        try {
          const r = await stack.call('POST', `/v1/coupons/${id}/issues`, { token: CLIENT, body: { userId: `rush-${i}` }, headers: { 'idempotency-key': `rush-${i}` } });
          const answer = { status: r.status, body: await json(r) };
          if (answer.status !== 503 || attempt >= 10) return answer;
        } catch (error) {
          if (attempt >= 10) throw error;
        }
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    };
    const results = await Promise.all(Array.from({ length: 2000 }, (_, i) => take(i)));
    const won = results.filter((r) => r.status === 201);
    expect(won).toHaveLength(50);
    expect(results.filter((r) => r.status === 409 && r.body.code === 'SOLD_OUT')).toHaveLength(1950);
    expect(new Set(won.map((r) => r.body.issueId)).size).toBe(50);
    const sync = await json(await stack.call('POST', `/v1/coupons/${id}/stocks/sync`));
    expect(sync).toMatchObject({ issue: { remain: 0, ledger: 50, drift: 0 } });
  });

  it('answers a sold-out coupon from the isolate\'s memory: takes without a key run no take script, keyed ones still do', async () => {
    const id = await createConfirmed({ name: 'sold-out memo', issueStock: { total: 1 } });
    // The take of the last unit answers remain 0: the isolate learns the sell-out there.
    expect((await stack.call('POST', `/v1/coupons/${id}/issues`, { token: CLIENT, body: { userId: 'first' } })).status).toBe(201);
    const before = takeRequests(stack.rest.stats).length;
    const refused = await Promise.all(Array.from({ length: 20 }, (_, i) => stack.call('POST', `/v1/coupons/${id}/issues`, { token: CLIENT, body: { userId: `late-${i}` } })));
    const bodies = await Promise.all(refused.map(json));
    expect(refused.map((r) => r.status)).toEqual(Array(20).fill(409));
    expect(new Set(bodies.map((b) => b.code))).toEqual(new Set(['SOLD_OUT']));
    // None, unless the machine was slow enough for a quarter window (250 ms) to pass: then one
    // take per quarter asks again. Never one per take.
    const remembered = takeRequests(stack.rest.stats).length - before;
    expect(remembered).toBeLessThan(20);
    // A keyed take asks the gauge (it may be a retry to replay), and is refused by it.
    const keyed = takeRequests(stack.rest.stats).length;
    const res = await stack.call('POST', `/v1/coupons/${id}/issues`, { token: CLIENT, body: { userId: 'keyed' }, headers: { 'idempotency-key': 'k-sold-out' } });
    expect(await json(res)).toMatchObject({ code: 'SOLD_OUT' });
    expect(takeRequests(stack.rest.stats).length - keyed).toBe(1);
  });

  it('counts refusals for the sale chart in the isolate and writes them with the drain it is elected for', async () => {
    const id = await createConfirmed({ name: 'refusals', issueStock: { total: 1 } });
    expect((await stack.call('POST', `/v1/coupons/${id}/issues`, { token: CLIENT, body: { userId: 'first' } })).status).toBe(201);
    const refused = await Promise.all(Array.from({ length: 20 }, (_, i) => stack.call('POST', `/v1/coupons/${id}/issues`, { token: CLIENT, body: { userId: `late-${i}` } })));
    expect(refused.map((r) => r.status)).toEqual(Array(20).fill(409));
    const stored = async () => {
      const rows = await stack.db.db.select().from(refusalCounts).where(eq(refusalCounts.couponId, id));
      return { kinds: [...new Set(rows.map((r) => r.kind))], count: rows.reduce((n, r) => n + r.count, 0) };
    };
    // A take that finds no drainer in charge (the first of a new coupon) is elected; its
    // waitUntil writes the isolate's counts along with the drain.
    const other = await createConfirmed({ name: 'elects', issueStock: { total: 1 } });
    expect((await stack.call('POST', `/v1/coupons/${other}/issues`, { token: CLIENT, body: { userId: 'drainer' } })).status).toBe(201);
    const deadline = Date.now() + 10_000;
    while ((await stored()).count < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await stored()).toEqual({ kinds: ['issue'], count: 20 });
  });

  it('runs the Cron Trigger: syncs live coupons and archives ended ones, deleting their keys', async () => {
    // workerd keeps the real time, so the windows end soon: 1 s after the coupon is made, or, when
    // a busy machine took longer than that to create, confirm and issue, twice as long on a new one.
    let id = '';
    let end = 0;
    for (let window = 1_000; !id; window *= 2) {
      if (window > 32_000) throw new Error('could not create, confirm and issue within 32 s');
      end = Date.now() + window;
      const candidate = await createConfirmed({
        name: 'ending',
        issueStock: { total: 5 },
        issueWindow: { start: null, end: new Date(end).toISOString() },
        useWindow: { start: null, end: new Date(end).toISOString() },
      });
      const issued = await stack.call('POST', `/v1/coupons/${candidate}/issues`, { token: CLIENT, body: { userId: 'x' } });
      if (issued.status === 201) id = candidate;
      else expect(await json(issued)).toMatchObject({ code: 'NOT_ACTIVE' });
    }
    await until(end);
    await stack.scheduled();
    const coupon = await json(await stack.call('GET', `/v1/coupons/${id}`));
    expect(coupon).toMatchObject({ status: 'archived', issueStock: { total: 5, remain: 4 } });
    const live = await json(await stack.call('GET', `/v1/coupons/${id}/stocks/live`, { token: CLIENT }));
    expect(live).toEqual({ issue: { total: 5, remain: 4 }, use: null });
    const issue = await stack.call('POST', `/v1/coupons/${id}/issues`, { token: CLIENT, body: { userId: 'y' } });
    expect(await json(issue)).toMatchObject({ code: 'NOT_ACTIVE' });
  });

  it('answers one clear problem when misconfigured', async () => {
    const { Miniflare } = await import('miniflare');
    const { buildWorker } = await import('../scripts/build-worker.js');
    const mf = new Miniflare({ modules: true, scriptPath: (await buildWorker()).path, compatibilityDate: '2026-04-01', bindings: {} });
    try {
      const res = await mf.dispatchFetch('http://worker.local/health');
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    } finally {
      await mf.dispose();
    }
  });
});
