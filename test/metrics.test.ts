/**
 * What an operator sees: `GET /metrics` (prom-client, Node) after real takes on the production
 * gauge path (RedisGauge over the Upstash REST endpoint and a real redis-server, PostgreSQL),
 * one JSON log line per request on Node and in workerd, and the Node host's wiring (maintenance
 * runs, METRICS_TOKEN) on its embedded default.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { drainCoupons } from '../src/coupon/drain.js';
import { createApp } from '../src/http/app.js';
import { observedGauge } from '../src/observe/metrics.js';
import { redisLedgerBacklog, webhookBacklog } from '../src/node/backlogs.js';
import { parseEnv } from '../src/node/config.js';
import { startNodeHost, type NodeHost } from '../src/node/host.js';
import { prometheusMetrics } from '../src/node/prometheus.js';
import { ADMIN, CLIENT, testApp, type TestApp } from './support/app.js';
import { startWorkerStack, ADMIN as WORKER_ADMIN, CLIENT as WORKER_CLIENT, type WorkerStack } from './support/worker-stack.js';

const METRICS = 'test-metrics-token-0123456789';
const TOKENS = [ADMIN, CLIENT, METRICS, WORKER_ADMIN, WORKER_CLIENT];

/** The value of one sample line (`name{labels} value`), or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

type LogLine = Record<string, unknown>;

/** Every request line has this shape and nothing else: no path values, headers, tokens or bodies. */
function expectRequestLine(line: LogLine): void {
  expect(Object.keys(line).sort()).toEqual(expect.arrayContaining(['at', 'event', 'method', 'ms', 'requestId', 'route', 'status']));
  for (const key of Object.keys(line)) expect(['at', 'event', 'requestId', 'method', 'route', 'status', 'code', 'ms']).toContain(key);
  expect(typeof line.at === 'string' && !Number.isNaN(Date.parse(line.at))).toBe(true);
  expect(typeof line.requestId).toBe('string');
  expect(typeof line.ms).toBe('number');
}

describe('GET /metrics and request logs (prom-client, Redis gauges)', () => {
  let t: TestApp;
  let metrics: ReturnType<typeof prometheusMetrics>;
  const lines: string[] = [];
  let app: ReturnType<typeof createApp>;
  let couponId = '';

  const call = async (method: string, path: string, token: string | null, body?: unknown, headers: Record<string, string> = {}) => {
    const h: Record<string, string> = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    if (body !== undefined) h['content-type'] = 'application/json';
    return app.request(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  };
  const scrape = async (token: string = ADMIN) => {
    const res = await call('GET', '/metrics', token);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text();
  };

  beforeAll(async () => {
    t = await testApp({ gauges: 'redis' });
    const redis = t.redis;
    if (!redis) throw new Error('a redis test app has its endpoint');
    metrics = prometheusMetrics({
      processMetrics: false,
      ledger: redisLedgerBacklog({ redis: redis.client, coupons: t.deps.coupons }),
      webhooks: webhookBacklog(t.db.db),
    });
    // No drain after takes here: events wait in Redis until the test drains them, so the backlog can be seen.
    const deps = { ...t.deps, gauges: observedGauge(t.deps.gauges, metrics), onLedgerEvent: undefined };
    app = createApp({
      tokens: { admin: ADMIN, client: CLIENT },
      info: { runtime: 'node', db: 'postgres' },
      deps: () => ({ deps }),
      log: (event, fields) => lines.push(JSON.stringify({ at: new Date().toISOString(), event, ...fields })),
      metrics,
      metricsToken: METRICS,
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('counts takes by kind, outcome and code, latency by route pattern, and gauge calls and their errors', async () => {
    const draft = await call('POST', '/v1/coupons', ADMIN, { name: 'metrics', issueStock: { total: 1 } });
    couponId = ((await draft.json()) as { id: string }).id;
    expect((await call('POST', `/v1/coupons/${couponId}/confirm`, ADMIN)).status).toBe(200);

    const issue = (userId: string, key?: string) => call('POST', `/v1/coupons/${couponId}/issues`, CLIENT, { userId }, key ? { 'idempotency-key': key } : {});
    expect((await issue('u1', 'k1')).status).toBe(201);
    expect((await issue('u1', 'k1')).headers.get('idempotent-replayed')).toBe('true');
    expect((await issue('u2')).status).toBe(409);
    // The REST endpoint answers 500 to the take and to the client's one retry: the gauge is down.
    t.redis?.rest.faults.failNext(2, '500-before');
    const down = await issue('u3');
    expect(down.status).toBe(503);

    const text = await scrape();
    const takes = (outcome: string, code: string) => sample(text, `coupon_stock_takes_total{kind="issue",outcome="${outcome}",code="${code}"}`);
    expect(takes('taken', 'none')).toBe(1);
    expect(takes('replayed', 'none')).toBe(1);
    expect(takes('refused', 'SOLD_OUT')).toBe(1);
    expect(takes('unavailable', 'STOCK_UNAVAILABLE')).toBe(1);

    const route = '/v1/coupons/:id/issues';
    const count = (status: number) => sample(text, `coupon_stock_http_request_duration_seconds_count{method="POST",route="${route}",status="${status}"}`);
    expect([count(201), count(409), count(503)]).toEqual([2, 1, 1]);
    expect(sample(text, `coupon_stock_http_request_duration_seconds_bucket{le="+Inf",method="POST",route="${route}",status="201"}`)).toBe(2);
    expect(sample(text, `coupon_stock_http_request_duration_seconds_count{method="POST",route="/v1/coupons/:id/confirm",status="200"}`)).toBe(1);
    // Patterns only: no coupon id in any series.
    expect(text).not.toContain(couponId);

    expect(sample(text, 'coupon_stock_store_call_errors_total{store="redis",op="take"}')).toBe(1);
    expect(sample(text, 'coupon_stock_store_call_duration_seconds_count{store="redis",op="take",result="error"}')).toBe(1);
    expect(sample(text, 'coupon_stock_store_call_duration_seconds_count{store="redis",op="take",result="ok"}')).toBe(3);
    expect(sample(text, 'coupon_stock_store_call_duration_seconds_count{store="redis",op="load",result="ok"}')).toBeGreaterThanOrEqual(1);
  });

  it('reads the ledger backlog and webhook deliveries at scrape time', async () => {
    const waiting = await scrape();
    // One take left one event in the coupon's stream; nothing drained it yet.
    expect(sample(waiting, 'coupon_stock_ledger_waiting_events')).toBe(1);
    const age = sample(waiting, 'coupon_stock_ledger_oldest_waiting_seconds') ?? -1;
    expect(age).toBeGreaterThan(0);
    expect(age).toBeLessThan(120);
    expect(sample(waiting, 'coupon_stock_webhook_deliveries{status="pending"}')).toBe(0);
    expect(sample(waiting, 'coupon_stock_webhook_deliveries{status="failed"}')).toBe(0);

    expect((await drainCoupons(t.deps, [couponId])).failed).toEqual([]);
    const drained = await scrape();
    expect(sample(drained, 'coupon_stock_ledger_waiting_events')).toBe(0);
    expect(sample(drained, 'coupon_stock_ledger_oldest_waiting_seconds')).toBe(0);
  });

  it('counts each item of a bulk issue as a take', async () => {
    const draft = await call('POST', '/v1/coupons', ADMIN, { name: 'batch', issueStock: { total: 1 } });
    const { id } = (await draft.json()) as { id: string };
    expect((await call('POST', `/v1/coupons/${id}/confirm`, ADMIN)).status).toBe(200);
    const before = await scrape();
    const res = await call('POST', `/v1/coupons/${id}/issues:batch`, CLIENT, { userIds: ['b1', 'b2', 'b3'] });
    expect(res.status).toBe(200);
    const after = await scrape();
    const delta = (outcome: string, code: string) => {
      const series = `coupon_stock_takes_total{kind="issue",outcome="${outcome}",code="${code}"}`;
      return (sample(after, series) ?? 0) - (sample(before, series) ?? 0);
    };
    expect([delta('taken', 'none'), delta('refused', 'SOLD_OUT')]).toEqual([1, 2]);
    expect(sample(after, 'coupon_stock_http_request_duration_seconds_count{method="POST",route="/v1/coupons/:id/:op{issues:batch}",status="200"}')).toBe(1);
    expect((await drainCoupons(t.deps, [id])).failed).toEqual([]);
  });

  it('answers /metrics to the admin token or METRICS_TOKEN only', async () => {
    expect((await call('GET', '/metrics', null)).status).toBe(401);
    expect((await call('GET', '/metrics', CLIENT)).status).toBe(401);
    expect((await call('GET', '/metrics', 'not-a-token-at-all-0123')).status).toBe(401);
    expect(await scrape(METRICS)).toContain('coupon_stock_takes_total');
  });

  it('logs one JSON line per request: id, method, route pattern, status, code, ms — never a token, a body or a path value', async () => {
    const before = lines.length;
    const res = await call('POST', `/v1/coupons/${couponId}/issues`, CLIENT, { userId: 'secret-user-in-body' });
    expect(res.status).toBe(409);
    await call('GET', '/no/such/route', ADMIN);
    const mine = lines.slice(before).map((l) => JSON.parse(l) as LogLine);
    expect(mine).toHaveLength(2);
    for (const line of mine) expectRequestLine(line);
    expect(mine[0]).toMatchObject({ event: 'request', requestId: res.headers.get('x-request-id'), method: 'POST', route: '/v1/coupons/:id/issues', status: 409, code: 'SOLD_OUT' });
    expect(mine[1]).toMatchObject({ event: 'request', method: 'GET', route: 'unmatched', status: 404, code: 'NOT_FOUND' });

    const requests = lines.map((l) => JSON.parse(l) as LogLine).filter((l) => l.event === 'request');
    // Every request of this suite: the scrapes and 401s included.
    expect(requests.length).toBeGreaterThanOrEqual(14);
    for (const line of requests) expectRequestLine(line);
    const all = lines.join('\n');
    for (const token of TOKENS) expect(all).not.toContain(token);
    expect(all).not.toContain('secret-user-in-body');
    expect(all).not.toContain(couponId);
  });
});

describe('the Node host: /metrics with METRICS_TOKEN, maintenance runs and their log lines', () => {
  let host: NodeHost;
  let dataDir: string;
  const printed: string[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'cs-metrics-'));
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => void printed.push(String(line)));
    const parsed = parseEnv({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', ADMIN_API_TOKEN: ADMIN, CLIENT_API_TOKEN: CLIENT, METRICS_TOKEN: METRICS, MAINTENANCE_INTERVAL_SECONDS: '3600' });
    if (!parsed.ok) throw new Error(parsed.message);
    host = await startNodeHost(parsed.config);
  }, 60_000);
  afterAll(async () => {
    await host?.stop();
    vi.restoreAllMocks();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('counts maintenance runs and drift, logs each run and request, and scrapes with METRICS_TOKEN', async () => {
    const headers = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    const draft = await fetch(`${host.url}/v1/coupons`, { method: 'POST', headers, body: JSON.stringify({ name: 'host', issueStock: { total: 5 } }) });
    const { id } = (await draft.json()) as { id: string };
    expect((await fetch(`${host.url}/v1/coupons/${id}/confirm`, { method: 'POST', headers })).status).toBe(200);
    await host.maintain();
    await host.maintain();

    const res = await fetch(`${host.url}/metrics`, { headers: { authorization: `Bearer ${METRICS}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(sample(text, 'coupon_stock_maintenance_runs_total{result="ok"}')).toBe(2);
    expect(sample(text, 'coupon_stock_maintenance_findings_total{kind="drifted"}')).toBe(0);
    expect(sample(text, 'coupon_stock_maintenance_drifted_stocks')).toBe(0);
    expect(sample(text, 'coupon_stock_maintenance_last_run_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 60);
    // The Postgres gauge writes the ledger in the take's transaction: nothing waits.
    expect(sample(text, 'coupon_stock_ledger_waiting_events')).toBe(0);
    expect(sample(text, 'coupon_stock_store_call_duration_seconds_count{store="postgres",op="load",result="ok"}')).toBeGreaterThanOrEqual(1);
    expect(text).toContain('coupon_stock_process_cpu_seconds_total');
    expect((await fetch(`${host.url}/metrics`, { headers: { authorization: `Bearer ${CLIENT}` } })).status).toBe(401);

    const logged = printed.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
    const runs = logged.filter((l) => l.event === 'maintenance');
    expect(runs).toHaveLength(2);
    expect(runs[0]).toMatchObject({ synced: 1, drifted: [], failed: [] });
    expect(typeof runs[0]?.ms).toBe('number');
    const requests = logged.filter((l) => l.event === 'request');
    expect(requests.map((l) => `${String(l.method)} ${String(l.route)} ${String(l.status)}`)).toEqual([
      'POST /v1/coupons 201',
      'POST /v1/coupons/:id/confirm 200',
      'GET /metrics 200',
      'GET /metrics 401',
    ]);
    for (const line of requests) expectRequestLine(line);
    for (const token of TOKENS) expect(printed.join('\n')).not.toContain(token);
  });
});

describe('the Worker in workerd: one JSON log line per request (its metrics are its logs)', () => {
  let stack: WorkerStack;
  const stdout: string[] = [];

  beforeAll(async () => {
    stack = await startWorkerStack({}, { stdout: (line) => stdout.push(line) });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });

  /** The request lines workerd printed for one request id (console.log, JSON). */
  const linesOf = (requestId: string | null) =>
    stdout
      .filter((l) => l.trimStart().startsWith('{'))
      .map((l) => JSON.parse(l.trim()) as LogLine)
      .filter((l) => l.event === 'request' && l.requestId === requestId);

  it('logs exactly one line per request with route pattern, status and code, and has no /metrics', async () => {
    const created = await stack.call('POST', '/v1/coupons', { body: { name: 'worker-log', issueStock: { total: 1 } } });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    expect((await stack.call('POST', `/v1/coupons/${id}/confirm`)).status).toBe(200);
    const taken = await stack.call('POST', `/v1/coupons/${id}/issues`, { token: WORKER_CLIENT, body: { userId: 'w1' } });
    expect(taken.status).toBe(201);
    const refused = await stack.call('POST', `/v1/coupons/${id}/issues`, { token: WORKER_CLIENT, body: { userId: 'w2' } });
    expect(refused.status).toBe(409);
    const metrics = await stack.call('GET', '/metrics');
    expect(metrics.status).toBe(404);

    const wanted = [
      [taken, { method: 'POST', route: '/v1/coupons/:id/issues', status: 201 }],
      [refused, { method: 'POST', route: '/v1/coupons/:id/issues', status: 409, code: 'SOLD_OUT' }],
      [metrics, { method: 'GET', route: 'unmatched', status: 404, code: 'NOT_FOUND' }],
    ] as const;
    for (const [res, fields] of wanted) {
      const requestId = res.headers.get('x-request-id');
      await vi.waitFor(() => expect(linesOf(requestId)).toHaveLength(1), { timeout: 10_000 });
      const line = linesOf(requestId)[0] as LogLine;
      expectRequestLine(line);
      expect(line).toMatchObject(fields);
      if (!('code' in fields)) expect(line).not.toHaveProperty('code');
    }
    const all = stdout.join('\n');
    for (const token of TOKENS) expect(all).not.toContain(token);
    expect(all).not.toContain(id);
  });

  it('logs one JSON line per scheduled maintenance run', async () => {
    await stack.scheduled();
    const runs = () => stdout.filter((l) => l.trimStart().startsWith('{')).map((l) => JSON.parse(l.trim()) as LogLine).filter((l) => l.event === 'maintenance');
    await vi.waitFor(() => expect(runs()).toHaveLength(1), { timeout: 10_000 });
    expect(runs()[0]).toMatchObject({ cron: '* * * * *', failed: [], drifted: [] });
    expect(typeof runs()[0]?.at).toBe('string');
    expect(typeof runs()[0]?.ms).toBe('number');
  });
});

describe('METRICS_TOKEN', () => {
  it('is optional, and when set a token of at least 16 visible characters', () => {
    expect(parseEnv({}).ok).toBe(true);
    expect(parseEnv({ METRICS_TOKEN: METRICS })).toMatchObject({ ok: true, config: { METRICS_TOKEN: METRICS } });
    expect(parseEnv({ METRICS_TOKEN: 'short' })).toMatchObject({ ok: false, message: expect.stringContaining('METRICS_TOKEN: must be at least 16 characters') });
  });
});
