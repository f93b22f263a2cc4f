/**
 * The sold-out memo through the HTTP API, on real stores: once a process saw a stock run out,
 * its takes without an Idempotency-Key are refused from memory — Redis runs no command for them
 * (INFO commandstats of a private redis-server) — with the very answer the gauge gives; a cancel
 * or adjust through that process makes the stock takeable at once; another process sees a cancel
 * once its window is over (the apps' clocks are moved, never waited on); a keyed retry of a take
 * whose 201 was lost still replays its 201; per-user limits are never remembered. Each suite has
 * three apps on one store: `a` and `b` with a memo of 1 s (two processes), `off` without one.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { prometheusMetrics } from '../../src/node/prometheus.js';
import { CLIENT, testApp, type GaugeConfig, type TestApp } from '../support/app.js';
import { pgliteDb, postgresDb, type TestDb } from '../support/db.js';
import { createLive, expectJson, expectProblem, issue, issued, live, use, type IssuedBody, type ProblemBody } from '../support/fixtures.js';
import { startPrivateRedis, type PrivateRedis } from '../support/redis-server.js';
import { sellOutViolations, TakeLog } from '../support/sell-out.js';

const WINDOW = 1_000;
const CONFIGS: GaugeConfig[] = ['redis', 'resp', 'postgres'];

describe.each(CONFIGS)('the sold-out memo (%s gauges)', (config) => {
  let redis: PrivateRedis | null = null;
  let db: TestDb;
  let a: TestApp;
  let b: TestApp;
  let off: TestApp;
  const metrics = prometheusMetrics({ processMetrics: false });

  beforeAll(async () => {
    redis = config === 'postgres' ? null : await startPrivateRedis();
    db = config === 'postgres' ? await pgliteDb() : await postgresDb();
    // Three apps, one store: the database is closed once, by this suite.
    const open = async () => ({ ...db, close: async () => {} });
    const app = (soldOutMemoMs: number) => testApp({ gauges: config, open, soldOutMemoMs, ...(redis ? { redisUrl: redis.url } : {}) });
    [a, b, off] = await Promise.all([app(WINDOW), app(WINDOW), app(0)]);
    for (const t of [a, b, off]) {
      // No ledger drain after takes: a drain is Redis commands of its own, at a time of its choosing.
      t.deps.onLedgerEvent = undefined;
    }
    a.deps.onRemembered = (_, kind) => metrics.remembered(kind);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a, b, off].map((t) => t?.close()));
    await db?.close();
    await redis?.stop();
  });

  // The memo's clock is the app's: fixed during a test, so no window runs out while it runs.
  beforeEach(() => {
    const at = Date.now();
    for (const t of [a, b, off]) t.setNow(at);
  });
  afterEach(() => {
    for (const t of [a, b, off]) t.setNow(null);
  });

  /**
   * What redis-server has run, from INFO commandstats: `all` counts every command (those a script
   * runs inside itself too, INFO itself excepted), `scripts` the calls a client sent (EVALSHA,
   * EVAL: one per take; what Upstash bills).
   */
  const commands = async (): Promise<{ all: number; scripts: number }> => {
    if (!redis) return { all: 0, scripts: 0 };
    const info = String(await redis.resp.send(['INFO', 'commandstats']));
    const out = { all: 0, scripts: 0 };
    for (const m of info.matchAll(/cmdstat_([a-z|_-]+):calls=(\d+)/g)) {
      if (m[1] === 'info') continue;
      out.all += Number(m[2]);
      if (/^eval/.test(m[1] ?? '')) out.scripts += Number(m[2]);
    }
    return out;
  };
  const withoutId = ({ requestId: _, ...rest }: ProblemBody) => rest;
  const cancel = (t: TestApp, couponId: string, issueId: string) => t.call('POST', `/v1/coupons/${couponId}/issues/${issueId}/cancel`, { token: CLIENT });

  if (config !== 'postgres') {
    it('after a sell-out, refuses takes without a key from memory: no Redis command, the same 409 body; without the memo, one command each', async () => {
      const coupon = await createLive(a, { issueStock: { total: 2 } });
      await issued(a, coupon.id, 'u1');
      // The take that took the last unit answered remain 0: the memo learned it there.
      expect((await issued(a, coupon.id, 'u2')).remain).toBe(0);
      const real = withoutId(await expectProblem(await issue(off, coupon.id, 'u0'), 409, 'SOLD_OUT'));

      const before = await commands();
      for (let i = 0; i < 20; i++) expect(withoutId(await expectProblem(await issue(a, coupon.id, `m${i}`), 409, 'SOLD_OUT'))).toEqual(real);
      const remembered = await commands();
      for (let i = 0; i < 20; i++) await expectProblem(await issue(off, coupon.id, `g${i}`), 409, 'SOLD_OUT');
      const asked = await commands();
      expect({ memo: remembered.all - before.all, noMemo: asked.scripts - remembered.scripts }).toEqual({ memo: 0, noMemo: 20 });

      const text = (await metrics.scrape?.())?.body ?? '';
      expect(text).toContain('coupon_stock_sold_out_memo_answers_total{kind="issue"} 20');
    });
  }

  it('makes a stock takeable at once after a cancel or an adjust through the same process', async () => {
    const coupon = await createLive(a, { issueStock: { total: 1 } });
    const first = await issued(a, coupon.id, 'u1');
    await expectProblem(await issue(a, coupon.id, 'u2'), 409, 'SOLD_OUT');
    expect((await cancel(a, coupon.id, first.issueId)).status).toBe(200);
    expect((await issued(a, coupon.id, 'u2')).remain).toBe(0);
    await expectProblem(await issue(a, coupon.id, 'u3'), 409, 'SOLD_OUT');
    const adjusted = await a.call('POST', `/v1/coupons/${coupon.id}/stocks/issue/adjust`, { body: { delta: 1 } });
    expect(adjusted.status).toBe(200);
    expect((await issued(a, coupon.id, 'u3')).remain).toBe(0);
  });

  it('lets another process take a cancel made elsewhere once its window is over, never later', async () => {
    const at = Date.now();
    a.setNow(at);
    const coupon = await createLive(a, { issueStock: { total: 1 } });
    const taken = await issued(b, coupon.id, 'u1');
    // `a` learns the sell-out from the gauge at `at`.
    await expectProblem(await issue(a, coupon.id, 'u2'), 409, 'SOLD_OUT');
    expect((await cancel(b, coupon.id, taken.issueId)).status).toBe(200);
    // Early in the window `a` still answers from memory (the stated staleness: at most the window) ...
    a.setNow(at + 1);
    const before = await commands();
    await expectProblem(await issue(a, coupon.id, 'u2'), 409, 'SOLD_OUT');
    expect((await commands()).all).toBe(before.all);
    // ... and once it is over, it asks the gauge again.
    a.setNow(at + WINDOW);
    expect((await issued(a, coupon.id, 'u2')).remain).toBe(0);
  });

  it('replays a keyed take whose 201 was lost, retried after the sell-out, in this process and in another', async () => {
    const coupon = await createLive(a, { issueStock: { total: 2 } });
    const lost = await issued(a, coupon.id, 'u1', { key: 'lost-answer' });
    expect((await issued(b, coupon.id, 'u2')).remain).toBe(0);
    await expectProblem(await issue(a, coupon.id, 'u3'), 409, 'SOLD_OUT');
    const before = await commands();
    await expectProblem(await issue(a, coupon.id, 'u4'), 409, 'SOLD_OUT');
    await expectProblem(await issue(b, coupon.id, 'u4'), 409, 'SOLD_OUT');
    expect((await commands()).all).toBe(before.all);
    for (const t of [a, b]) {
      const retry = await issue(t, coupon.id, 'u1', { key: 'lost-answer' });
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(await expectJson<IssuedBody>(retry, 201)).toEqual(lost);
    }
    // A new key still asks the gauge, and is refused by it.
    await expectProblem(await issue(a, coupon.id, 'u5', { key: 'new-key' }), 409, 'SOLD_OUT');
  });

  it('never remembers a per-user limit: each such refusal asks the gauge, and others still take', async () => {
    const coupon = await createLive(a, { issueStock: { total: 10 }, perUserIssueLimit: 1 });
    await issued(a, coupon.id, 'u1');
    const before = await commands();
    for (let i = 0; i < 3; i++) await expectProblem(await issue(a, coupon.id, 'u1'), 409, 'USER_LIMIT_REACHED');
    if (redis) expect((await commands()).scripts - before.scripts).toBe(3);
    expect((await issued(a, coupon.id, 'u2')).remain).toBe(8);
  });

  it('refuses a take only for a stock it needs: a use is not refused because the issue stock is out', async () => {
    const coupon = await createLive(a, { issueStock: { total: 1 }, useStock: { total: 5 } });
    await issued(a, coupon.id, 'u1');
    await expectProblem(await issue(a, coupon.id, 'u2'), 409, 'SOLD_OUT');
    expect((await expectJson<{ remain: number }>(await use(a, coupon.id, 'u1'), 201)).remain).toBe(4);
  });

  it('never a false sell-out in a race of takes only: every budget refusal judged against the order the uses took', async () => {
    const total = 20_000;
    const coupon = await createLive(a, { useStock: { total: 100_000 }, budget: { total, currency: 'EUR' } });
    const log = new TakeLog();
    let spent = false;
    const shopper = async (name: string, amounts: number[]) => {
      for (let i = 0; i < 300 && !spent; i++) {
        const amount = amounts[i % amounts.length] ?? 100;
        const body = { userId: `${name}-${i}`, discountAmount: amount };
        const read = async (): Promise<number | null> => {
          const res = await a.call('POST', `/v1/coupons/${coupon.id}/uses`, { token: CLIENT, body });
          const json = (await res.json()) as { budgetRemain?: number; code?: string };
          if (res.status === 201 && typeof json.budgetRemain === 'number') return json.budgetRemain;
          if (res.status === 409 && json.code === 'BUDGET_EXHAUSTED') return null;
          throw new Error(`unexpected ${res.status} ${JSON.stringify(json)}`);
        };
        const remain = await log.run(amount, read, (r) => r);
        if (remain === null && amount === 100) spent = true;
      }
    };
    // Large discounts refused first, small ones still fitting: the memo must remember how much was short, not "empty".
    await Promise.all([
      ...Array.from({ length: 4 }, (_, i) => shopper(`big${i}`, [[1_200, 900, 1_500], [900, 1_500, 1_200]][i % 2] ?? [1_200])),
      ...Array.from({ length: 2 }, (_, i) => shopper(`small${i}`, [100])),
    ]);
    expect(spent).toBe(true);
    expect(sellOutViolations(total, log.takes, (await live(a, coupon.id)).budget?.remain ?? -1)).toEqual([]);
    // And the memo did answer some of them.
    const text = (await metrics.scrape?.())?.body ?? '';
    expect(Number(/coupon_stock_sold_out_memo_answers_total\{kind="use"\} (\d+)/.exec(text)?.[1] ?? 0)).toBeGreaterThan(0);
  });
});
