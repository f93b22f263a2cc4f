/**
 * `/health`: which runtime and stores serve, and whether they answer. 503 when one does not.
 */
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from './context.js';
import { json } from './openapi.js';
import { HealthSchema } from './schemas.js';

export interface HealthInfo {
  runtime: 'node' | 'workerd';
  db: 'postgres' | 'pglite';
  /** How the gauges are reached (default: `upstash` for Redis gauges, `postgres` for the Postgres gauge). */
  gaugeMode?: 'upstash' | 'redis' | 'cluster' | 'postgres';
  /**
   * How long a check that found every store up answers for later probes (default 0: every probe
   * checks). On Workers a check is an Upstash request and a Postgres query per probe, from every
   * isolate, so a load balancer's probes would cost the stores as much as traffic. A store found
   * down is never remembered: the next probe checks again.
   */
  cacheMs?: number;
}

const TIMEOUT_MS = 2_000;

type Checks = { gauges: 'up' | 'down'; db: 'up' | 'down' };

const route = createRoute({
  method: 'get',
  path: '/health',
  operationId: 'getHealth',
  tags: ['system'],
  summary: 'Liveness of the service and its stores',
  // Public on purpose (load balancers and monitors call it without a token): declared, not forgotten.
  security: [],
  responses: {
    200: json(HealthSchema, 'Every dependency answers'),
    // The service itself answers nothing but 200 and 503 here; the HTTP server in front of it
    // (Node's, or Cloudflare's) refuses a request it cannot parse before the app sees it.
    '4XX': { description: 'Refused by the HTTP server before the service sees it (a malformed request, a URI or headers too large); no problem document' },
    503: json(HealthSchema, 'A dependency is down'),
  },
});

/** `up` when the check resolves within the timeout. */
async function check(run: () => Promise<void>): Promise<'up' | 'down'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'down'>((resolve) => {
    timer = setTimeout(() => resolve('down'), TIMEOUT_MS);
  });
  try {
    return await Promise.race([run().then(() => 'up' as const, () => 'down' as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The last all-up result, for `cacheMs`; only settled values are kept (a Worker request may not
 * await I/O another request started). While one probe refreshes an expired result, the others
 * answer with it, for at most the check's own timeout.
 */
class HealthCache {
  private last: { at: number; checks: Checks } | null = null;
  private refreshingSince = 0;

  constructor(private readonly ms: number) {}

  async get(now: number, run: () => Promise<Checks>): Promise<Checks> {
    if (this.ms <= 0) return run();
    const last = this.last;
    if (last && now - last.at < this.ms) return last.checks;
    if (last && now - this.refreshingSince < TIMEOUT_MS) return last.checks;
    this.refreshingSince = now;
    try {
      const checks = await run();
      this.last = checks.gauges === 'up' && checks.db === 'up' ? { at: Date.now(), checks } : null;
      return checks;
    } finally {
      this.refreshingSince = 0;
    }
  }
}

export function healthRoutes(info: HealthInfo): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  const cache = new HealthCache(info.cacheMs ?? 0);
  app.openapi(route, async (c) => {
    const { gauges, coupons } = c.var.services.deps;
    const run = async (): Promise<Checks> => {
      const [g, d] = await Promise.all([check(() => gauges.ping()), check(() => coupons.ping())]);
      return { gauges: g, db: d };
    };
    const checks = await cache.get(Date.now(), run);
    const up = checks.gauges === 'up' && checks.db === 'up';
    const body = { status: up ? ('ok' as const) : ('unavailable' as const), runtime: info.runtime, gauges: gauges.name, gaugeMode: info.gaugeMode ?? (gauges.name === 'redis' ? 'upstash' : 'postgres'), db: info.db, checks };
    return up ? c.json(body, 200) : c.json(body, 503);
  });
  return app;
}
