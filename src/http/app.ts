/**
 * The app factory: built once per runtime; each runtime only wires adapters from its own
 * environment (`src/node.ts`, `src/worker.ts`).
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import { CouponAdmin } from '../coupon/admin.js';
import { CouponLive } from '../coupon/live.js';
import { CouponRecovery } from '../coupon/recovery.js';
import type { CouponDeps } from '../coupon/deps.js';
import { Maintenance } from '../coupon/maintenance.js';
import { CouponTakes } from '../coupon/takes.js';
import { validationHook } from './validation.js';
import { limitBody } from './body-limit.js';
import { adminPage } from './admin/admin-page.js';
import { adminRoutes } from './admin-routes.js';
import { bearerAuth, type Tokens } from './auth.js';
import type { AppEnv, Services } from './context.js';
import { docsRoutes, type DocsAssets } from './docs-routes.js';
import { healthRoutes, type HealthInfo } from './health-routes.js';
import { metricsRoute, observeRequests } from './observe.js';
import { noMetrics, type Metrics } from '../observe/metrics.js';
import { problem } from './problem.js';
import { storeFailure } from './store-failure.js';
import { TAKE_BODY_LIMITS } from './take-route-defs.js';
import { takeRoutes } from './take-routes.js';
import { webhookRoutes } from './webhook-routes.js';

/** What a request works with, and how to let go of it once the response is ready. */
export interface RequestScope {
  deps: CouponDeps;
  /** Called after the response is produced (never awaited by the response). */
  release?: () => void;
}

export interface AppOptions {
  tokens: Tokens;
  /** What `/health` reports about the runtime and stores. */
  info: HealthInfo;
  /** The adapters for a request. Called once per request; cheap on Node; on Workers a handle per request (statements over HTTP, a pool only for a transaction). */
  deps: (c: Context) => RequestScope;
  /** Largest request body in bytes (default 16 KiB: the largest valid body is far below). */
  maxBodyBytes?: number;
  /** Scalar's bundle for `/docs`, served by the app itself (Node host); absent, the page loads it from jsDelivr. */
  docs?: DocsAssets;
  /** Where unexpected errors and one line per request (`request`) are reported (never to the client). */
  log?: (event: string, fields: Record<string, unknown>) => void;
  /** Where requests, takes and store calls are counted (default: nowhere); with `scrape`, served at `GET /metrics`. */
  metrics?: Metrics;
  /** A token that may read `/metrics` besides the admin token (METRICS_TOKEN). */
  metricsToken?: string;
}

const built = new WeakMap<CouponDeps, Services>();

/**
 * The services over `deps`, built once per deps object: once per process on Node (one scope for
 * every request), per request on Workers (a scope per request, where a pool may not outlive it).
 * They hold nothing but `deps`, so sharing them between requests shares nothing else.
 */
export function services(deps: CouponDeps): Services {
  let found = built.get(deps);
  if (!found) {
    found = { deps, admin: new CouponAdmin(deps), live: new CouponLive(deps), recovery: new CouponRecovery(deps), takes: new CouponTakes(deps), maintenance: new Maintenance(deps) };
    built.set(deps, found);
  }
  return found;
}

/**
 * The API's licence in the document: the package is private and grants no open-source licence.
 * An OpenAPI 3.1 License Object (`identifier`, an SPDX expression; `LicenseRef-` names a licence
 * SPDX does not list), kept out of the call so the 3.0-typed `doc31` config accepts it.
 */
const LICENSE = { name: 'Proprietary: all rights reserved', identifier: 'LicenseRef-Proprietary' };

/** The API document's header. */
const OPENAPI_INFO = {
  openapi: '3.1.0',
  info: {
    title: 'coupon-stock',
    version: '1.0.0',
    description: 'Caps how many times a coupon can be issued and used: never oversold, never counted twice.',
    license: LICENSE,
  },
  // Relative: the same document is served by every host (a Worker, `npm start`, a proxy's
  // prefix-free domain), and a client resolves it against the URL it read the document from.
  servers: [{ url: '/', description: 'The service that serves this document' }],
};

const HTTP_CODES = { 400: 'VALIDATION_FAILED', 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE' } as const;

/** An error and its causes on one line, for the logs only. */
function describeError(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e !== undefined && parts.length < 4; e = e instanceof Error ? e.cause : undefined) {
    parts.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  }
  return parts.join(' <- caused by ');
}

export function createApp(options: AppOptions): OpenAPIHono<AppEnv> {
  const log = options.log ?? ((event, fields) => console.error(JSON.stringify({ at: new Date().toISOString(), event, ...fields })));
  const metrics = options.metrics ?? noMetrics;
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.use('*', requestId());
  app.use('*', observeRequests({ metrics, log }));
  // Routes with a limit of their own first (the bulk issue), then the default for the rest; the
  // admin page's forms are far smaller still (`/admin/*` also matches `/admin`).
  for (const { path, maxBytes } of TAKE_BODY_LIMITS) app.use(path, limitBody(maxBytes));
  const limit = limitBody(options.maxBodyBytes ?? 16 * 1024);
  app.use('/v1/*', limit);
  app.use('/admin/*', limit);
  app.use('/v1/*', bearerAuth(options.tokens));
  app.use('*', async (c, next) => {
    const scope = options.deps(c);
    c.set('services', services(scope.deps));
    try {
      await next();
    } finally {
      scope.release?.();
    }
  });

  app.route('/', healthRoutes(options.info));
  app.route('/', metricsRoute({ metrics, adminToken: options.tokens.admin, token: options.metricsToken }));
  app.route('/', adminRoutes());
  app.route('/', takeRoutes());
  app.route('/', webhookRoutes());
  // Plain routes, not `openapi()`: the HTML page is not part of the API document.
  app.route('/', adminPage(options.tokens, log));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  // Built once per app (per process on Node, per isolate on Workers), on first request, when
  // every route is registered: generating it walks every schema (~10 ms of CPU), which
  // `doc31()` would do on every request.
  let document: string | undefined;
  app.get('/openapi.json', (c) => {
    document ??= JSON.stringify(app.getOpenAPI31Document(OPENAPI_INFO));
    return c.body(document, 200, { 'content-type': 'application/json' });
  });
  app.route('/', docsRoutes(options.docs));
  app.get('/', (c) => c.json({ name: 'coupon-stock', docs: '/docs', openapi: '/openapi.json', health: '/health' }));

  app.notFound((c) => problem(c, 'NOT_FOUND', `no route ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      const code = HTTP_CODES[error.status as keyof typeof HTTP_CODES];
      // A body the validator could not even parse (malformed JSON) is still one listed issue.
      if (code === 'VALIDATION_FAILED') return problem(c, code, error.message || code, [{ path: 'body', message: error.message || 'invalid body' }]);
      if (code) return problem(c, code, error.message || code);
    }
    // A store that is down or missed its deadline: 503 with a stable code, retry later (every
    // operation is idempotent). The cause goes to the logs only.
    const store = storeFailure(error);
    if (store) {
      log('store_unavailable', { requestId: c.get('requestId'), method: c.req.method, path: c.req.path, store, error: describeError(error) });
      return store === 'gauge'
        ? problem(c, 'STOCK_UNAVAILABLE', 'the live stock is unavailable (down, or no answer within its deadline); retry later')
        : problem(c, 'SERVICE_UNAVAILABLE', 'the database is unavailable (down, or no answer within its deadline); retry later');
    }
    log('unhandled_error', {
      requestId: c.get('requestId'),
      method: c.req.method,
      path: c.req.path,
      error: describeError(error),
    });
    return problem(c, 'INTERNAL', 'an unexpected error occurred; it was logged with this requestId');
  });
  return app;
}
