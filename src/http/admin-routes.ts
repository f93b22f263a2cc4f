/**
 * Admin routes: coupon drafts, lifecycle, live limits, sync and archive.
 */
import { createRoute, OpenAPIHono, type z } from '@hono/zod-openapi';
import { unlimitedSpec, type CouponSpec, type Window } from '../coupon/coupon.js';
import { requireAdmin } from './auth.js';
import type { AppEnv } from './context.js';
import { errorResponses, json } from './openapi.js';
import { couponOut, syncOut } from './present.js';
import { problem, refuse } from './problem.js';
import {
  AdjustRequestSchema,
  AdjustedSchema,
  CouponSchema,
  CouponCreateSchema,
  CouponPageSchema,
  CouponParamsSchema,
  CouponPatchSchema,
  IdempotencyHeadersSchema,
  ListQuerySchema,
  RebuildReportSchema,
  StockParamsSchema,
  SyncReportSchema,
  type WindowInputSchema,
} from './schemas.js';

const tags = ['coupons'];
const security = [{ bearer: [] }];
const admin = { tags, security, middleware: [requireAdmin] };

const route = {
  create: createRoute({
    ...admin,
    operationId: 'createCoupon',
    method: 'post',
    path: '/v1/coupons',
    summary: 'Create a draft coupon',
    request: { body: { required: true, content: { 'application/json': { schema: CouponCreateSchema } } } },
    responses: { 201: json(CouponSchema, 'The draft'), ...errorResponses(400, 401, 403, 415) },
  }),
  list: createRoute({
    ...admin,
    operationId: 'listCoupons',
    method: 'get',
    path: '/v1/coupons',
    summary: 'List coupons, newest first',
    request: { query: ListQuerySchema },
    responses: { 200: json(CouponPageSchema, 'A page of coupons'), ...errorResponses(400, 401, 403) },
  }),
  get: createRoute({
    ...admin,
    operationId: 'getCoupon',
    method: 'get',
    path: '/v1/coupons/{id}',
    summary: 'One coupon with its stocks',
    request: { params: CouponParamsSchema },
    responses: { 200: json(CouponSchema, 'The coupon'), ...errorResponses(401, 403, 404) },
  }),
  patch: createRoute({
    ...admin,
    operationId: 'updateCoupon',
    method: 'patch',
    path: '/v1/coupons/{id}',
    summary: 'Change a draft',
    request: {
      params: CouponParamsSchema,
      body: { required: true, content: { 'application/json': { schema: CouponPatchSchema } } },
    },
    responses: { 200: json(CouponSchema, 'The draft'), ...errorResponses(400, 401, 403, 404, 409, 415) },
  }),
  remove: createRoute({
    ...admin,
    operationId: 'deleteCoupon',
    method: 'delete',
    path: '/v1/coupons/{id}',
    summary: 'Delete a draft',
    request: { params: CouponParamsSchema },
    responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404, 409) },
  }),
  adjust: createRoute({
    ...admin,
    operationId: 'adjustStock',
    method: 'post',
    path: '/v1/coupons/{id}/stocks/{stock}/adjust',
    summary: 'Raise or lower a live limit (exactly once per Idempotency-Key)',
    request: {
      params: StockParamsSchema,
      headers: IdempotencyHeadersSchema,
      body: { required: true, content: { 'application/json': { schema: AdjustRequestSchema } } },
    },
    responses: { 200: json(AdjustedSchema, 'The live stock'), ...errorResponses(400, 401, 403, 404, 409, 415) },
  }),
  rebuild: createRoute({
    ...admin,
    operationId: 'rebuildGauges',
    method: 'post',
    path: '/v1/coupons/{id}/rebuild',
    summary: 'Recovery: rebuild missing gauges (stocks and per-user counters) from total and the ledger',
    request: { params: CouponParamsSchema },
    responses: { 200: json(RebuildReportSchema, 'What was rebuilt'), ...errorResponses(401, 403, 404, 409) },
  }),
  sync: createRoute({
    ...admin,
    operationId: 'syncStocks',
    method: 'post',
    path: '/v1/coupons/{id}/stocks/sync',
    summary: 'Drain the ledger and copy live remains into Postgres now',
    request: { params: CouponParamsSchema },
    responses: { 200: json(SyncReportSchema, 'Both stocks and any drift'), ...errorResponses(401, 403, 404, 409) },
  }),
};

const lifecycle = (action: 'confirm' | 'pause' | 'resume' | 'archive', summary: string) =>
  createRoute({
    ...admin,
    operationId: `${action}Coupon`,
    method: 'post',
    path: `/v1/coupons/{id}/${action}`,
    summary,
    request: { params: CouponParamsSchema },
    responses: { 200: json(CouponSchema, 'The coupon'), ...errorResponses(401, 403, 404, 409) },
  });

const date = (s: string | null | undefined): Date | null => (s ? new Date(s) : null);
const windowIn = (w: z.infer<typeof WindowInputSchema> | null | undefined): Window | null =>
  w ? { start: date(w.start), end: date(w.end) } : null;

type SpecInput = z.infer<typeof CouponPatchSchema>;

/** Applies a create or patch body onto a spec: absent = keep, `null` = unlimited / always open. */
function mergeSpec(base: CouponSpec, body: SpecInput): CouponSpec {
  const pick = <K extends keyof CouponSpec>(key: K, value: CouponSpec[K] | undefined) =>
    value === undefined ? base[key] : value;
  return {
    name: body.name ?? base.name,
    issueStock: pick('issueStock', body.issueStock),
    useStock: pick('useStock', body.useStock),
    budget: pick('budget', body.budget),
    issuePeriodStock: pick('issuePeriodStock', body.issuePeriodStock),
    usePeriodStock: pick('usePeriodStock', body.usePeriodStock),
    perUserIssueLimit: pick('perUserIssueLimit', body.perUserIssueLimit),
    perUserUseLimit: pick('perUserUseLimit', body.perUserUseLimit),
    issueWindow: body.issueWindow === undefined ? base.issueWindow : windowIn(body.issueWindow),
    useWindow: body.useWindow === undefined ? base.useWindow : windowIn(body.useWindow),
  };
}

export function adminRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(route.create, async (c) => {
    const result = await c.var.services.admin.create(mergeSpec(unlimitedSpec(''), c.req.valid('json')));
    return result.ok ? c.json(couponOut(result.value), 201) : refuse(c, result);
  });

  app.openapi(route.list, async (c) => {
    const { status, limit, cursor } = c.req.valid('query');
    const page = await c.var.services.admin.list({ status, limit, cursor });
    return c.json({ items: page.items.map(couponOut), nextCursor: page.nextCursor }, 200);
  });

  app.openapi(route.get, async (c) => {
    const { id } = c.req.valid('param');
    const result = await c.var.services.admin.get(id);
    return result.ok ? c.json(couponOut(result.value), 200) : refuse(c, result);
  });

  app.openapi(route.patch, async (c) => {
    const { id } = c.req.valid('param');
    const current = await c.var.services.admin.get(id);
    if (!current.ok) return problem(c, 'NOT_FOUND', `coupon ${id} does not exist`);
    const result = await c.var.services.admin.update(id, mergeSpec(current.value, c.req.valid('json')));
    return result.ok ? c.json(couponOut(result.value), 200) : refuse(c, result);
  });

  app.openapi(route.remove, async (c) => {
    const { id } = c.req.valid('param');
    const result = await c.var.services.admin.remove(id);
    return result.ok ? c.body(null, 204) : refuse(c, result);
  });

  for (const [action, summary] of [
    ['confirm', 'Confirm a draft: persist its stocks and load its gauges (idempotent)'],
    ['pause', 'Stop issue and use at once'],
    ['resume', 'Restart issue and use'],
    ['archive', 'Final sync, then archive and delete the live keys'],
  ] as const) {
    app.openapi(lifecycle(action, summary), async (c) => {
      const { id } = c.req.valid('param');
      const { admin: service, maintenance } = c.var.services;
      const result = action === 'archive' ? await maintenance.archive(id) : await service[action](id);
      return result.ok ? c.json(couponOut(result.value), 200) : refuse(c, result);
    });
  }

  app.openapi(route.adjust, async (c) => {
    const { id, stock } = c.req.valid('param');
    const result = await c.var.services.admin.adjust(id, stock, c.req.valid('json').delta, {
      idempotencyKey: c.req.header('idempotency-key') ?? null,
      caller: c.get('caller'),
    });
    if (!result.ok) return refuse(c, result);
    const { replayed, ...stocks } = result.value;
    if (replayed) c.header('Idempotent-Replayed', 'true');
    return c.json({ couponId: id, stock, ...stocks }, 200);
  });

  app.openapi(route.rebuild, async (c) => {
    const { id } = c.req.valid('param');
    const result = await c.var.services.recovery.rebuildById(id);
    return result.ok ? c.json(result.value, 200) : refuse(c, result);
  });

  app.openapi(route.sync, async (c) => {
    const { id } = c.req.valid('param');
    const result = await c.var.services.maintenance.sync(id);
    return result.ok ? c.json(syncOut(result.value), 200) : refuse(c, result);
  });

  return app;
}
