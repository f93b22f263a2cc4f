/**
 * A flash sale served by N Worker isolates: the built Worker in N separate workerd instances
 * (one Miniflare each, so N isolates that share nothing but the stores), behind a round-robin,
 * in front of one redis-server (through the local Upstash REST endpoint) and one PostgreSQL
 * (through the Neon proxy). It counts what the sale cost the stores — Redis commands from the
 * server's own `INFO commandstats`, Neon connections from the proxy (every HTTP query and every
 * WebSocket the isolates open) and Postgres sessions from `pg_stat_database` — and waits until
 * the ledger holds every take. Used by `test/isolates.test.ts` and `npm run bench`; it imports
 * no test runner, so both can call it.
 */
import { Miniflare } from 'miniflare';
import type { Readable } from 'node:stream';
import pg from 'pg';
import { startNeonProxy, targetOf, type NeonProxy } from '../../scripts/neon-proxy/proxy.js';
import { startUpstashRest, type UpstashRest } from '../../scripts/upstash-rest/server.js';
import type { RespClient } from '../../scripts/upstash-rest/resp.js';

const ADMIN = 'isolates-admin-token-0123456789';
const CLIENT = 'isolates-client-token-0123456789';
const REDIS_TOKEN = 'isolates-upstash-token';

/**
 * Commands a client sends itself (never from inside a script): what Upstash bills. Scripts'
 * own calls (HMGET, XADD, XRANGE, …) are counted by Redis too, under their names, and are not
 * commands sent. XDEL is sent by every drain and called by no script.
 */
const SENT = ['evalsha', 'eval', 'xdel'];

export interface IsolateStack {
  isolates: number;
  /** Milliseconds from the first `new Miniflare` to every instance ready. */
  startupMs: number;
  /** Round-robin over the instances. */
  call(method: string, path: string, options?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  close(): Promise<void>;
}

export interface IsolateSaleResult {
  isolates: number;
  startupMs: number;
  requests: number;
  successes: number;
  soldOut: number;
  /** Other answers (5xx included), by status. */
  other: Record<string, number>;
  /** From the first request to the last answer. */
  saleMs: number;
  /** From the first request to the ledger holding every success (the drains' tail included). */
  drainedMs: number;
  /** Whether the drains after takes completed the ledger, or a sync (as the Cron Trigger runs) had to. */
  drainedBy: 'takes' | 'sync';
  /** Commands sent to Redis over the window (EVALSHA, EVAL, XDEL), by name, and per take request. */
  redis: { byName: Record<string, number>; total: number; perTake: number };
  /** Neon connections opened over the window: HTTP queries and WebSockets, and per second. */
  neon: { queries: number; webSockets: number; total: number; perSecond: number };
  /** Postgres sessions opened over the window (`pg_stat_database.sessions`). */
  pgSessions: number;
  /** At the end: the stock's total and live remain, and the ledger's takes. */
  books: { total: number; remain: number; ledger: number };
}

/** Starts N instances of the built Worker, each its own workerd. */
export async function startIsolates(options: {
  isolates: number;
  bundlePath: string;
  restUrl: string;
  databaseUrl: string;
  wsProxy: string;
  vars?: Record<string, string>;
}): Promise<IsolateStack> {
  const started = performance.now();
  const instances = await Promise.all(
    Array.from({ length: options.isolates }, async () => {
      const mf = new Miniflare({
        modules: true,
        scriptPath: options.bundlePath,
        compatibilityDate: '2026-04-01',
        bindings: {
          UPSTASH_REDIS_REST_URL: options.restUrl,
          UPSTASH_REDIS_REST_TOKEN: REDIS_TOKEN,
          DATABASE_URL: options.databaseUrl,
          ADMIN_API_TOKEN: ADMIN,
          CLIENT_API_TOKEN: CLIENT,
          NEON_WS_PROXY: options.wsProxy,
          // The sale's stores answer through this process's endpoints on a busy machine.
          TAKE_TIMEOUT_MS: '30000',
          STORE_TIMEOUT_MS: '30000',
          ...options.vars,
        },
        // Each instance's logs would interleave; the counts say what happened.
        handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
          stdout.resume();
          stderr.resume();
        },
      });
      await mf.ready;
      // The first request compiles the app's routes: not the sale's cost.
      await (await mf.dispatchFetch('http://worker.local/openapi.json')).arrayBuffer();
      return mf;
    }),
  );
  const startupMs = performance.now() - started;
  let next = 0;
  return {
    isolates: options.isolates,
    startupMs,
    call: async (method, path, opts = {}) => {
      const mf = instances[next++ % instances.length]!;
      const headers: Record<string, string> = { authorization: `Bearer ${opts.token ?? ADMIN}`, ...opts.headers };
      if (opts.body !== undefined) headers['content-type'] = 'application/json';
      const res = await mf.dispatchFetch(`http://worker.local${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
      const body = await res.arrayBuffer();
      return new Response(body, { status: res.status, headers: [...res.headers] });
    },
    close: async () => {
      await Promise.all(instances.map((mf) => mf.dispose()));
    },
  };
}

/** Calls per command name, from the redis-server's INFO commandstats. */
async function commandCalls(redis: RespClient): Promise<Record<string, number>> {
  const info = String(await redis.send(['INFO', 'commandstats']));
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/cmdstat_([a-z|_]+):calls=(\d+)/g)) out[m[1] ?? ''] = Number(m[2]);
  return out;
}

export interface IsolateSaleOptions {
  isolates: number;
  /** The coupon's issue stock; the sale's requests exceed it (the rest are SOLD_OUT). */
  stock: number;
  requests: number;
  /** Requests in flight at once. */
  concurrency: number;
  bundlePath: string;
  /** A private redis-server (its commandstats must be this sale's alone). */
  redis: { url: string; resp: RespClient };
  /** A migrated database, and an admin connection URL of its server (for `pg_stat_database`). */
  database: { url: string; adminUrl: string };
  /** How long the drains after takes may take to complete the ledger before the cron is run. */
  drainWaitMs?: number;
  /** Told of each phase (progress). */
  say?: (line: string) => void;
}

/** Runs one flash sale over N isolates and measures it (see the header). */
export async function isolateSale(options: IsolateSaleOptions): Promise<IsolateSaleResult> {
  const say = options.say ?? (() => {});
  const rest: UpstashRest = await startUpstashRest({ redisUrl: options.redis.url, token: REDIS_TOKEN });
  const proxy: NeonProxy = await startNeonProxy({ targets: [targetOf(options.database.url)] });
  const admin = new pg.Client({ connectionString: options.database.adminUrl });
  await admin.connect();
  const dbName = new URL(options.database.url).pathname.slice(1);
  const sessions = async () => {
    await admin.query('select pg_stat_clear_snapshot()');
    const { rows } = await admin.query<{ n: string }>('select sessions as n from pg_stat_database where datname = $1', [dbName]);
    return Number(rows[0]?.n ?? 0);
  };
  let stack: IsolateStack | null = null;
  try {
    say(`${options.isolates} isolate(s): starting workerd`);
    stack = await startIsolates({ isolates: options.isolates, bundlePath: options.bundlePath, restUrl: rest.url, databaseUrl: options.database.url, wsProxy: proxy.wsProxy });
    const s = stack;
    const json = async (res: Response) => (await res.json()) as Record<string, unknown>;
    const coupon = async (name: string, stock: number) => {
      const created = await json(await s.call('POST', '/v1/coupons', { body: { name, issueStock: { total: stock }, perUserIssueLimit: 1 } }));
      const confirmed = await s.call('POST', `/v1/coupons/${String(created.id)}/confirm`);
      if (confirmed.status !== 200) throw new Error(`confirm answered ${confirmed.status}`);
      return String(created.id);
    };
    // Warm-up, not counted: one take (and its drain) loads the scripts into Redis, as a Redis
    // that has served the service before knows them.
    const warm = await coupon('warm-up', 1);
    await s.call('POST', `/v1/coupons/${warm}/issues`, { token: CLIENT, body: { userId: 'warm' } });
    const id = await coupon(`isolates ${options.isolates}`, options.stock);
    const dbAdmin = new pg.Client({ connectionString: options.database.url });
    await dbAdmin.connect();
    const takesOf = async (coupon: string) => Number((await dbAdmin.query<{ n: string }>(`select count(*) as n from ledger where scope = $1 and action = 'take'`, [coupon])).rows[0]?.n);
    const ledgerTakes = () => takesOf(id);
    try {
      for (let waited = 0; (await takesOf(warm)) < 1 && waited < 10_000; waited += 25) await new Promise((r) => setTimeout(r, 25));
      // Settle: the admin calls' and the warm-up's own queries end before the counts start.
      await new Promise((r) => setTimeout(r, 1_000));
      const [calls0, sessions0] = [await commandCalls(options.redis.resp), await sessions()];
      const neon0 = proxy.stats();
      say(`${options.isolates} isolate(s): the sale, ${options.requests} requests for ${options.stock}`);
      const started = performance.now();
      const answers: Record<string, number> = {};
      let sent = 0;
      await Promise.all(
        Array.from({ length: options.concurrency }, async () => {
          while (sent < options.requests) {
            const n = sent++;
            const res = await s.call('POST', `/v1/coupons/${id}/issues`, { token: CLIENT, body: { userId: `user-${n}` }, headers: { 'idempotency-key': `sale-${n}` } });
            const code = res.status === 201 ? '201' : res.status === 409 ? String((await json(res)).code) : String(res.status);
            answers[code] = (answers[code] ?? 0) + 1;
          }
        }),
      );
      const saleMs = performance.now() - started;
      const successes = answers['201'] ?? 0;
      // The drains after the sale: the ledger completes without a request (the elected drainer
      // runs its rounds), or not (then the cron is what completes it).
      const waitUntil = performance.now() + (options.drainWaitMs ?? 5_000);
      let inLedger = await ledgerTakes();
      while (inLedger < successes && performance.now() < waitUntil) {
        await new Promise((r) => setTimeout(r, 25));
        inLedger = await ledgerTakes();
      }
      const drainedMs = performance.now() - started;
      const drainedBy = inLedger >= successes ? 'takes' : 'sync';
      // Connections a second after the last one was opened are counted too: a session reports
      // to pg_stat_database within a second of activity.
      const neon1 = proxy.stats();
      const calls1 = await commandCalls(options.redis.resp);
      await new Promise((r) => setTimeout(r, 1_100));
      const sessions1 = await sessions();
      if (drainedBy === 'sync') {
        say(`${options.isolates} isolate(s): ${successes - inLedger} events still in Redis after ${options.drainWaitMs ?? 5_000} ms: syncing`);
        // The admin sync drains and syncs as the Cron Trigger does.
        await s.call('POST', `/v1/coupons/${id}/stocks/sync`);
      }
      const live = await json(await s.call('GET', `/v1/coupons/${id}/stocks/live`, { token: CLIENT }));
      const issue = live.issue as { total: number; remain: number };
      const byName = Object.fromEntries(SENT.map((c) => [c, (calls1[c] ?? 0) - (calls0[c] ?? 0)]));
      const total = Object.values(byName).reduce((a, b) => a + b, 0);
      const queries = neon1.queries - neon0.queries;
      const webSockets = neon1.webSockets - neon0.webSockets;
      return {
        isolates: options.isolates,
        startupMs: s.startupMs,
        requests: options.requests,
        successes,
        soldOut: answers.SOLD_OUT ?? 0,
        other: Object.fromEntries(Object.entries(answers).filter(([k]) => k !== '201' && k !== 'SOLD_OUT')),
        saleMs,
        drainedMs,
        drainedBy,
        redis: { byName, total, perTake: total / options.requests },
        neon: { queries, webSockets, total: queries + webSockets, perSecond: (queries + webSockets) / (drainedMs / 1000) },
        pgSessions: sessions1 - sessions0,
        books: { total: issue.total, remain: issue.remain, ledger: await ledgerTakes() },
      };
    } finally {
      await dbAdmin.end();
    }
  } finally {
    await stack?.close();
    await Promise.all([rest.close(), proxy.close()]);
    await admin.end();
  }
}
