/**
 * What an operator sees of the HTTP layer: one JSON log line per request and its latency by
 * route pattern (`observeRequests`), and `GET /metrics` where the runtime keeps metrics
 * (`metricsRoute`, the Node host).
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Context } from 'hono';
import type { Metrics } from '../observe/metrics.js';
import { BEARER, tokenMatches } from './auth.js';
import { problem } from './problem.js';

/**
 * The route's pattern (`/v1/coupons/:id/issues`): the last matched route that is not a
 * middleware. Raw paths would put every coupon id in a label; a path no route matches is
 * `unmatched`.
 */
export function routeOf(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const r = routes[i];
    if (r && r.method !== 'ALL') return r.path;
  }
  return 'unmatched';
}

/**
 * Times every request, reports it to `metrics`, and logs one line: request id, method, route
 * pattern, status, problem code, duration. Never the path's values, a header, a token or a body.
 */
export function observeRequests(options: { metrics: Metrics; log: (event: string, fields: Record<string, unknown>) => void }): MiddlewareHandler {
  const { metrics, log } = options;
  return async (c, next) => {
    const started = performance.now();
    c.set('metrics', metrics);
    await next();
    const ms = performance.now() - started;
    const route = routeOf(c);
    const status = c.res.status;
    metrics.request(c.req.method, route, status, ms / 1000);
    const code = c.get('problemCode');
    log('request', { requestId: c.get('requestId'), method: c.req.method, route, status, ...(code ? { code } : {}), ms: Math.round(ms * 10) / 10 });
  };
}

/** `GET /metrics` in the Prometheus text format, for the admin token or `token` (METRICS_TOKEN) when set. */
export function metricsRoute(options: { metrics: Metrics; adminToken: string; token?: string | undefined }): Hono {
  const app = new Hono();
  const { metrics, adminToken, token } = options;
  const scrape = metrics.scrape?.bind(metrics);
  if (!scrape) return app;
  app.get('/metrics', async (c) => {
    const presented = BEARER.exec((c.req.header('authorization') ?? '').trim())?.[1];
    if (!presented) return problem(c, 'UNAUTHORIZED', 'send Authorization: Bearer <token>');
    // Both comparisons always run, as in bearerAuth.
    const admin = tokenMatches(presented, adminToken);
    const own = token !== undefined && tokenMatches(presented, token);
    if (!admin && !own) return problem(c, 'UNAUTHORIZED', 'the bearer token is not valid');
    const { contentType, body } = await scrape();
    return c.body(body, 200, { 'content-type': contentType, 'cache-control': 'no-store' });
  });
  return app;
}
