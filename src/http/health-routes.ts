/**
 * `/health`: which runtime and stores serve, and whether they answer. 503 when one does not.
 */
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from './context.js';
import { json } from './openapi.js';
import { Health } from './schemas.js';

export interface HealthInfo {
  runtime: 'node' | 'workerd';
  db: 'postgres' | 'pglite';
}

const TIMEOUT_MS = 2_000;

const route = createRoute({
  method: 'get',
  path: '/health',
  operationId: 'getHealth',
  tags: ['system'],
  summary: 'Liveness of the service and its stores',
  // Public on purpose (load balancers and monitors call it without a token): declared, not forgotten.
  security: [],
  responses: {
    200: json(Health, 'Every dependency answers'),
    // The service itself answers nothing but 200 and 503 here; the HTTP server in front of it
    // (Node's, or Cloudflare's) refuses a request it cannot parse before the app sees it.
    '4XX': { description: 'Refused by the HTTP server before the service sees it (a malformed request, a URI or headers too large); no problem document' },
    503: json(Health, 'A dependency is down'),
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

export function healthRoutes(info: HealthInfo): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(route, async (c) => {
    const { gauges, coupons } = c.var.services.deps;
    const [g, d] = await Promise.all([check(() => gauges.ping()), check(() => coupons.ping())]);
    const up = g === 'up' && d === 'up';
    const body = { status: up ? ('ok' as const) : ('unavailable' as const), runtime: info.runtime, gauges: gauges.name, db: info.db, checks: { gauges: g, db: d } };
    return up ? c.json(body, 200) : c.json(body, 503);
  });
  return app;
}
