/**
 * The tail of a sale: what requests cost once the stock is gone. Two services on the same Redis
 * path (Upstash REST, as the Node host runs it), one with the sold-out memo (SOLD_OUT_MEMO_MS,
 * default 500) and one without (0), each sells a coupon out and then takes `tail` more requests
 * without an Idempotency-Key, all refused; then, on the memo's service, `tail` with a new key
 * each (the memo never answers those: docs/guarantees.md). Per tail: the scripts Redis ran per
 * request (EVALSHA + EVAL calls from INFO commandstats, read before and after: what Upstash
 * bills) and refused requests per second, each tail after an unmeasured warm-up of a quarter of
 * it — ratios within one run, never asserted timings.
 */
import autocannon from 'autocannon';
import { DRAIN_INTERVAL_MS } from '../src/coupon/drain.js';
import type { Checks, Row } from './model.js';
import type { BenchOptions } from './options.js';
import { int, say } from './progress.js';
import { startService, type PrivateRedis, type RestEndpoint, type Service, type Stack } from './stack.js';

/** Script calls (EVALSHA, EVAL: what a client sends; not the commands a script runs inside) so far. */
async function scriptCalls(redis: PrivateRedis): Promise<number> {
  const info = String(await redis.resp.send(['INFO', 'commandstats']));
  let n = 0;
  for (const m of info.matchAll(/cmdstat_(eval[a-z_]*):calls=(\d+)/g)) n += Number(m[2]);
  return n;
}

async function admin<T>(service: Service, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${service.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${service.admin}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Fires `amount` issues of `couponId`, a new user each, keyed or not; counts answers by status and code. */
function fire(service: Service, couponId: string, amount: number, connections: number, keyed: boolean, tag: string) {
  const answers: Record<string, number> = {};
  let n = 0;
  return new Promise<{ answers: Record<string, number>; seconds: number; p99: number; errors: number }>((resolve, reject) => {
    autocannon(
      {
        url: service.url,
        connections,
        amount,
        requests: [
          {
            method: 'POST',
            path: `/v1/coupons/${couponId}/issues`,
            headers: { authorization: `Bearer ${service.client}`, 'content-type': 'application/json' },
            setupRequest: (req) => {
              n += 1;
              const headers = keyed ? { ...req.headers, 'idempotency-key': `${tag}-${n}` } : req.headers;
              return { ...req, headers, body: `{"userId":"${tag}-${n}"}` };
            },
            onResponse: (status, body) => {
              const code = /"code":"([A-Z_]+)"/.exec(body)?.[1];
              const key = `${status}${code ? ` ${code}` : ''}`;
              answers[key] = (answers[key] ?? 0) + 1;
            },
          },
        ],
      },
      (error, result) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve({ answers, seconds: result.duration, p99: result.latency.p99, errors: result.errors })),
    );
  });
}

interface Tail {
  id: string;
  what: string;
  keyed: boolean;
}

/** Sells a coupon out on `service`, then measures a tail of refusals. */
async function tail(service: Service, redis: PrivateRedis, t: Tail, options: BenchOptions, checks: Checks): Promise<Row> {
  const { connections } = options.sale;
  const stock = options.quick ? 100 : 1_000;
  const requests = options.quick ? 5_000 : 50_000;
  const { id: couponId } = await admin<{ id: string }>(service, 'POST', '/v1/coupons', { name: `sold out ${t.id}`, issueStock: { total: stock }, perUserIssueLimit: 1 });
  await admin(service, 'POST', `/v1/coupons/${couponId}/confirm`);
  const sale = await fire(service, couponId, stock, Math.min(connections, stock), false, `${t.id}-sale`);
  checks.equal(`sold-out tail, ${t.what}: the sale's successes`, sale.answers['201'] ?? 0, stock);
  // The ledger drains that the sale scheduled run now, not in the middle of the tail.
  await admin(service, 'POST', `/v1/coupons/${couponId}/stocks/sync`);
  await new Promise((r) => setTimeout(r, 4 * DRAIN_INTERVAL_MS));

  // Warm the service on this tail (JIT, sockets) before it is measured; its answers are not counted.
  await fire(service, couponId, Math.round(requests / 4), connections, t.keyed, `${t.id}-warm`);
  say(`sold-out tail: ${t.what}: ${int(requests)} requests, ${connections} connections`);
  const before = await scriptCalls(redis);
  const run = await fire(service, couponId, requests, connections, t.keyed, `${t.id}-tail`);
  const calls = (await scriptCalls(redis)) - before;
  const refused = run.answers['409 SOLD_OUT'] ?? 0;
  const name = `sold-out tail, ${t.what}`;
  checks.equal(`${name}: SOLD_OUT answers`, refused, requests);
  checks.equal(`${name}: transport errors`, run.errors, 0);
  for (const [answer, count] of Object.entries(run.answers)) if (answer !== '409 SOLD_OUT') checks.expect(false, `${name}: ${int(count)} answers ${answer}`);
  const perRequest = calls / requests;
  say(`sold-out tail: ${int(refused / run.seconds)} refused/s, ${perRequest.toFixed(4)} Redis scripts per request`);
  return {
    id: t.id,
    section: 'sold out',
    what: t.what,
    concurrency: connections,
    perSecond: refused / run.seconds,
    latency: null,
    scriptsPerRequest: perRequest,
    detail: `${int(requests)} requests after a sell-out of ${int(stock)}: ${int(refused)} SOLD_OUT; Redis ran ${int(calls)} scripts = ${perRequest.toFixed(4)} per request`,
  };
}

/** The sold-out tail with and without the memo, on the Upstash REST path; keyed requests too. */
export async function measureSoldOut(stack: Stack, redis: PrivateRedis, rest: RestEndpoint, options: BenchOptions, checks: Checks): Promise<Row[]> {
  const rows: Row[] = [];
  const variants: { memoMs: number; tails: Tail[] }[] = [
    { memoMs: 0, tails: [{ id: 'sold-out-off', what: 'no memo (SOLD_OUT_MEMO_MS=0), no key', keyed: false }] },
    {
      memoMs: 500,
      tails: [
        { id: 'sold-out-memo', what: 'sold-out memo (SOLD_OUT_MEMO_MS=500), no key', keyed: false },
        { id: 'sold-out-memo-keyed', what: 'sold-out memo (SOLD_OUT_MEMO_MS=500), a new key each', keyed: true },
      ],
    },
  ];
  for (const v of variants) {
    say(`sold-out tail: starting the service (Upstash REST, SOLD_OUT_MEMO_MS=${v.memoMs})`);
    // The take deadline (300 ms) is not what this section measures: on a loaded machine, a few
    // takes of either service would miss it and answer 503 (it is the flash sale's subject).
    const env = { SOLD_OUT_MEMO_MS: String(v.memoMs), TAKE_TIMEOUT_MS: '10000' };
    const service = await startService(stack, { name: `sold-out-${v.memoMs}`, rest, env });
    try {
      for (const t of v.tails) rows.push(await tail(service, redis, t, options, checks));
    } finally {
      await service.stop();
    }
  }
  return rows;
}
