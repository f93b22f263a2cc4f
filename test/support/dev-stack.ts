/**
 * `npm run dev` with nothing configured, in process: the built Worker in workerd (Miniflare), a
 * real redis-server behind the local Upstash REST endpoint, and the embedded PGlite served over
 * the Postgres protocol (`scripts/neon-proxy/pglite-server.ts`) behind the Neon proxy (WebSocket and HTTP) —
 * the same pieces `scripts/dev.ts` starts, in the same order, with the same defaults.
 */
import { Miniflare } from 'miniflare';
import { inject } from 'vitest';
import { buildWorker } from '../../scripts/build-worker.js';
import { PGLITE_HTTP_POOL, startPgliteServer, type PgliteServer } from '../../scripts/neon-proxy/pglite-server.js';
import { startNeonProxy, targetOf, type NeonProxy } from '../../scripts/neon-proxy/proxy.js';
import { startUpstashRest } from '../../scripts/upstash-rest/server.js';

export const DEV_ADMIN = 'dev-admin-token-0123456789';
export const DEV_CLIENT = 'dev-client-token-0123456789';
const REDIS_TOKEN = 'dev-upstash-token';

export interface DevStack {
  mf: Miniflare;
  pglite: PgliteServer;
  proxy: NeonProxy;
  /** Sends a request to the Worker with the given token (`null` = none) and JSON body. */
  call(method: string, path: string, options?: { token?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  /** Runs the Worker's `scheduled()` as the Cron Trigger would. */
  scheduled(): Promise<void>;
  close(): Promise<void>;
}

/** Starts the dev defaults (PGlite in memory); `vars` are more Worker variables. */
export async function startDevStack(vars: Record<string, string> = {}): Promise<DevStack> {
  const [bundle, rest, pglite] = await Promise.all([
    buildWorker(),
    startUpstashRest({ redisUrl: inject('redisUrl'), token: REDIS_TOKEN }),
    startPgliteServer(),
  ]);
  const proxy = await startNeonProxy({ targets: [targetOf(pglite.url)], httpPoolMax: PGLITE_HTTP_POOL });
  const mf = new Miniflare({
    modules: true,
    scriptPath: bundle.path,
    compatibilityDate: '2026-04-01',
    bindings: {
      UPSTASH_REDIS_REST_URL: rest.url,
      UPSTASH_REDIS_REST_TOKEN: REDIS_TOKEN,
      DATABASE_URL: pglite.url,
      NEON_WS_PROXY: proxy.wsProxy,
      ADMIN_API_TOKEN: DEV_ADMIN,
      CLIENT_API_TOKEN: DEV_CLIENT,
      WEBHOOK_ALLOW_PRIVATE: 'true',
      ...vars,
    },
  });
  await mf.ready;
  return {
    mf,
    pglite,
    proxy,
    call: async (method, path, options = {}) => {
      const headers: Record<string, string> = { ...options.headers };
      const token = options.token === undefined ? DEV_ADMIN : options.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await mf.dispatchFetch(`http://worker.local${path}`, { method, headers, body });
      return res as unknown as Response;
    },
    scheduled: async () => {
      const worker = (await mf.getWorker()) as unknown as { scheduled(options: { cron: string }): Promise<unknown> };
      await worker.scheduled({ cron: '* * * * *' });
    },
    close: async () => {
      await mf.dispose();
      await Promise.all([rest.close(), proxy.close()]);
      await pglite.close();
    },
  };
}
