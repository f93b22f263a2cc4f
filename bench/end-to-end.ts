/**
 * End to end: a flash sale over HTTP against the service in its own process. autocannon keeps
 * `connections` requests in flight until the demand (a multiple of the stock) is spent, every
 * request a new user with its own Idempotency-Key; latencies go into an HDR histogram. Then
 * the books are checked through the API itself: live remain, and a sync that drains the ledger
 * and compares `total − remain` with it.
 */
import autocannon from 'autocannon';
import { build } from 'hdr-histogram-js';
import type { Checks, Row } from './model.js';
import type { BenchOptions } from './options.js';
import { int, say, ticker } from './progress.js';
import type { Service } from './stack.js';

interface Tally {
  created: number;
  replayed: number;
  soldOut: number;
  /** 409 USER_LIMIT_REACHED: only where a user is asked more than once (the two-process sale). */
  userLimit: number;
  /** Any other answer (another 409, a 503, a 5xx): each one is a failed check. */
  other: Record<string, number>;
}

export interface SaleRun {
  tally: Tally;
  seconds: number;
  latency: { p50: number; p95: number; p99: number };
  /** Connection errors, timeouts included. */
  errors: number;
  timedOut: boolean;
}

async function call<T>(service: Service, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${service.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Creates and confirms a flash-sale coupon: `stock` to hand out, one per user. */
export async function saleCoupon(service: Service, name: string, stock: number): Promise<string> {
  const { id } = await call<{ id: string }>(service, service.admin, 'POST', '/v1/coupons', {
    name,
    issueStock: { total: stock },
    perUserIssueLimit: 1,
  });
  await call(service, service.admin, 'POST', `/v1/coupons/${id}/confirm`);
  return id;
}

/**
 * Fires `demand` issues of `couponId` with `connections` in flight. Request `n` is user
 * `u-<users>-n` under key `sale-<keys>-n` (both a fresh tag unless given: two sales given the same
 * `users` ask each user twice, under two keys).
 */
export function fire(
  service: Service,
  couponId: string,
  demand: number,
  connections: number,
  timeoutSeconds: number,
  label: string,
  tags: { users?: string; keys?: string } = {},
): Promise<SaleRun> {
  const tally: Tally = { created: 0, replayed: 0, soldOut: 0, userLimit: 0, other: {} };
  const histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const users = tags.users ?? tag;
  const keys = tags.keys ?? tag;
  let n = 0;
  let timedOut = false;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: service.url,
        connections,
        amount: demand,
        timeout: timeoutSeconds,
        requests: [
          {
            method: 'POST',
            path: `/v1/coupons/${couponId}/issues`,
            headers: { authorization: `Bearer ${service.client}`, 'content-type': 'application/json' },
            // A new user and key per request; autocannon may build one request more than it sends.
            setupRequest: (req) => {
              n += 1;
              return { ...req, body: `{"userId":"u-${users}-${n}"}`, headers: { ...req.headers, 'idempotency-key': `sale-${keys}-${n}` } };
            },
            onResponse: (status, body, _context, headers) => {
              if (status === 201 && headers?.['idempotent-replayed'] === 'true') tally.replayed += 1;
              else if (status === 201) tally.created += 1;
              else if (status === 409 && body.includes('"SOLD_OUT"')) tally.soldOut += 1;
              else if (status === 409 && body.includes('"USER_LIMIT_REACHED"')) tally.userLimit += 1;
              else {
                const code = /"code":"([A-Z_]+)"/.exec(body)?.[1] ?? '';
                const key = `${status}${code ? ` ${code}` : ''}`;
                tally.other[key] = (tally.other[key] ?? 0) + 1;
              }
            },
          },
        ],
      },
      (error, result) => {
        clearTimeout(limit);
        stopTicker();
        if (error) return reject(error instanceof Error ? error : new Error(String(error)));
        const ms = (q: number) => histogram.getValueAtPercentile(q) / 1000;
        const latency = { p50: ms(50), p95: ms(95), p99: ms(99) };
        histogram.destroy();
        resolve({ tally, seconds: result.duration, latency, errors: result.errors, timedOut });
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      histogram.recordValue(Math.max(1, Math.round(responseTime * 1000)));
    });
    const stopTicker = ticker(() => `${label}: ${int(tally.created)} issued, ${int(tally.soldOut)} sold out`);
    const limit = setTimeout(() => {
      timedOut = true;
      instance.stop();
    }, timeoutSeconds * 1000);
  });
}

interface SyncReport {
  drained: number;
  issue: { total: number; remain: number; ledger: number; drift: number } | null;
}

export interface SaleTarget {
  id: string;
  what: string;
  service: Service;
}

/** The live issue stock and the sync's report of `couponId` (the sync drains and checks the ledger). */
export async function saleBooks(service: Service, couponId: string) {
  const live = await call<{ issue: { total: number; remain: number } | null }>(service, service.client, 'GET', `/v1/coupons/${couponId}/stocks/live`);
  const sync = await call<SyncReport>(service, service.admin, 'POST', `/v1/coupons/${couponId}/stocks/sync`);
  return { live, sync };
}

export async function flashSale(target: SaleTarget, options: BenchOptions, checks: Checks): Promise<Row> {
  const { connections, stock, demandFactor, timeoutSeconds } = options.sale;
  const demand = stock * demandFactor;
  const { service, what } = target;

  // Warm the service (JIT, pools, script cache) on another coupon, so the sale measures a
  // running service, as a real sale would meet it.
  const { warmup } = options.sale;
  say(`end to end: ${what}: warming up with ${int(warmup)} requests on another coupon`);
  const warm = await saleCoupon(service, `warm-up ${target.id}`, warmup / 2);
  await fire(service, warm, warmup, connections, timeoutSeconds, `${what} warm-up`);

  const couponId = await saleCoupon(service, `flash sale ${target.id}`, stock);
  say(`end to end: ${what}: ${int(demand)} requests for ${int(stock)} coupons, ${connections} connections`);
  const run = await fire(service, couponId, demand, connections, timeoutSeconds, what);
  const { tally } = run;
  const answered = tally.created + tally.replayed + tally.soldOut + tally.userLimit + Object.values(tally.other).reduce((a, b) => a + b, 0);

  const { live, sync } = await saleBooks(service, couponId);
  const remain = live.issue?.remain ?? -1;
  const total = live.issue?.total ?? -1;
  const oversell = Math.max(0, tally.created - total);
  // A refusal while stock remained, or a sale that ended short of its stock although demand was enough.
  const undersell = (remain > 0 ? tally.soldOut : 0) + Math.max(0, Math.min(stock, demand) - tally.created);

  const name = `end to end, ${what}`;
  checks.expect(!run.timedOut, `${name}: the sale did not finish within ${timeoutSeconds} s`);
  checks.equal(`${name}: oversell`, oversell, 0);
  checks.equal(`${name}: undersell`, undersell, 0);
  checks.equal(`${name}: answers`, answered, demand);
  checks.equal(`${name}: successes`, tally.created, Math.min(stock, demand));
  checks.equal(`${name}: sold-out answers`, tally.soldOut, demand - Math.min(stock, demand));
  checks.equal(`${name}: replays (no request was retried)`, tally.replayed, 0);
  checks.equal(`${name}: per-user limit answers (each user asked once)`, tally.userLimit, 0);
  checks.equal(`${name}: remain`, remain, stock - tally.created);
  checks.equal(`${name}: ledger after sync`, sync.issue?.ledger ?? -1, tally.created);
  checks.equal(`${name}: drift after sync`, sync.issue?.drift ?? -1, 0);
  checks.equal(`${name}: transport errors (timeouts included)`, run.errors, 0);
  for (const [answer, count] of Object.entries(tally.other)) checks.expect(false, `${name}: ${int(count)} answers ${answer}`);

  const perSecond = answered / run.seconds;
  say(`end to end: ${int(perSecond)} req/s, p99 ${run.latency.p99.toFixed(1)} ms; ${int(tally.created)} issued, ${int(tally.soldOut)} sold out`);
  const others = Object.entries(tally.other).map(([answer, count]) => `, ${int(count)}× ${answer}`).join('');
  return {
    id: target.id,
    section: 'end to end',
    what: `flash sale, ${what}`,
    concurrency: connections,
    perSecond,
    latency: run.latency,
    detail:
      `${int(demand)} req for ${int(stock)}: ${int(tally.created)} issued, ${int(tally.soldOut)} sold out${others}; ` +
      `oversell ${oversell}, undersell ${undersell}; remain ${int(remain)}, ledger ${int(sync.issue?.ledger ?? -1)}, drift ${sync.issue?.drift ?? '?'}`,
  };
}
