/**
 * The production path, locally: the built Worker in workerd (Miniflare), a real redis-server
 * behind the local Upstash REST endpoint, and a real PostgreSQL (a fresh database migrated by the
 * README's `DATABASE_URL=… npx drizzle-kit migrate`) behind the proxy the Neon driver speaks to
 * (WebSocket for transactions, HTTP for every other statement). Every response of `call` is
 * checked against the Worker's own `/openapi.json` (`./openapi-contract.ts`).
 */
import { Miniflare } from 'miniflare';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import pg from 'pg';
import { inject } from 'vitest';
import { startNeonProxy, targetOf } from '../../scripts/neon-proxy/proxy.js';
import { startUpstashRest } from '../../scripts/upstash-rest/server.js';
import { buildWorker } from '../../scripts/build-worker.js';
import { postgresDb, type TestDb } from './db.js';
import { responseContract, type OpenApiDocument } from './openapi-contract.js';

export const ADMIN = 'worker-admin-token-0123456789';
export const CLIENT = 'worker-client-token-0123456789';
const REDIS_TOKEN = 'worker-upstash-token';

/** Hands each line of workerd's stdout to `onLine`; stderr goes on to the test's stderr. */
function captureStdout(onLine: (line: string) => void) {
  return (stdout: Readable, stderr: Readable) => {
    createInterface({ input: stdout }).on('line', onLine);
    stderr.pipe(process.stderr);
  };
}

export interface WorkerStack {
  mf: Miniflare;
  rest: Awaited<ReturnType<typeof startUpstashRest>>;
  db: TestDb;
  /** Sends a request to the Worker with the given token (`null` = none) and JSON body; its response must meet the Worker's OpenAPI document. */
  call(method: string, path: string, options?: { token?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  /** Runs the Worker's `scheduled()` as the Cron Trigger would. */
  scheduled(): Promise<void>;
  /** Sessions PostgreSQL has counted on the stack's database (`pg_stat_database.sessions`). */
  sessionsOpened(): Promise<number>;
  close(): Promise<void>;
}

/** `vars` are more Worker variables (settings such as TAKE_TIMEOUT_MS); `stdout` gets each line workerd prints (console.log). */
export async function startWorkerStack(vars: Record<string, string> = {}, options: { stdout?: (line: string) => void } = {}): Promise<WorkerStack> {
  // The database is migrated by the README's deploy command, as a production one is.
  const [bundle, rest, db] = await Promise.all([buildWorker(), startUpstashRest({ redisUrl: inject('redisUrl'), token: REDIS_TOKEN }), postgresDb({ migrate: 'readme' })]);
  const admin = new pg.Client({ connectionString: inject('postgresUrl') });
  await admin.connect();
  // As `npm run dev`: the proxy reaches this database only, with its secret in NEON_WS_PROXY.
  const proxy = await startNeonProxy({ targets: [targetOf(db.url ?? '')] });
  const mf = new Miniflare({
    modules: true,
    scriptPath: bundle.path,
    compatibilityDate: '2026-04-01',
    bindings: {
      UPSTASH_REDIS_REST_URL: rest.url,
      UPSTASH_REDIS_REST_TOKEN: REDIS_TOKEN,
      DATABASE_URL: db.url ?? '',
      ADMIN_API_TOKEN: ADMIN,
      CLIENT_API_TOKEN: CLIENT,
      NEON_WS_PROXY: proxy.wsProxy,
      // The webhook receivers of these tests listen on 127.0.0.1.
      WEBHOOK_ALLOW_PRIVATE: 'true',
      ...vars,
    },
    ...(options.stdout ? { handleRuntimeStdio: captureStdout(options.stdout) } : {}),
  });
  await mf.ready;
  // As for the Node app (`./app.ts`): what the Worker answers must be what its document says.
  const served = await mf.dispatchFetch('http://worker.local/openapi.json');
  const contract = responseContract((await served.json()) as OpenApiDocument);
  return {
    mf,
    rest,
    db,
    call: async (method, path, options = {}) => {
      const headers: Record<string, string> = { ...options.headers };
      const token = options.token === undefined ? ADMIN : options.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await mf.dispatchFetch(`http://worker.local${path}`, { method, headers, body });
      // Checked on a copy read at once: checking a clone of the live body (a tee) while 2,000
      // requests were in flight made Miniflare's fetch fail with ECONNRESET.
      const bytes = await res.arrayBuffer();
      // A 204 or 304 can carry no body, not even an empty one.
      const answer = new Response([204, 304].includes(res.status) ? null : bytes, { status: res.status, statusText: res.statusText, headers: [...res.headers] });
      await contract.check(method, path, answer);
      return answer;
    },
    scheduled: async () => {
      // Fetcher.scheduled exists at run time; Miniflare's Fetcher type leaves it out.
      const worker = (await mf.getWorker()) as unknown as { scheduled(options: { cron: string }): Promise<unknown> };
      await worker.scheduled({ cron: '* * * * *' });
    },
    sessionsOpened: async () => {
      await admin.query('select pg_stat_clear_snapshot()');
      const { rows } = await admin.query<{ n: string }>('select sessions as n from pg_stat_database where datname = $1', [new URL(db.url ?? '').pathname.slice(1)]);
      return Number(rows[0]?.n);
    },
    close: async () => {
      await mf.dispose();
      await Promise.all([rest.close(), proxy.close()]);
      await admin.end();
      await db.close();
    },
  };
}
