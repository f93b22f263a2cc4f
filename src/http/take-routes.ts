/**
 * Client routes: issue, use, cancel, live stock, a user's coupons. The client token or the
 * admin token may call them.
 */
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import type { TakeOutcome } from '../observe/metrics.js';
import { now } from '../coupon/deps.js';
import type { ErrorCode } from '../coupon/errors.js';
import { userCouponsOf } from '../coupon/user-coupons.js';
import { CHARTED_REFUSALS } from '../coupon/refusal-tally.js';
import type { TakeInput } from '../coupon/take-types.js';
import type { RouteBodyLimit } from './body-limit.js';
import type { AppEnv } from './context.js';
import { fingerprint } from './fingerprint.js';
import { errorResponses, json } from './openapi.js';
import { userCouponOut, liveOut } from './present.js';
import { refuse, STATUS } from './problem.js';
import {
  BatchIssueRequestSchema,
  HoldRequestSchema,
  HoldCommittedSchema,
  HoldParamsSchema,
  HoldReleasedSchema,
  HoldSchema,
  BatchIssueReportSchema,
  CouponParamsSchema,
  UserCouponsSchema,
  IdempotencyHeadersSchema,
  IssueRequestSchema,
  IssueCancelledSchema,
  IssueParamsSchema,
  IssueSchema,
  LiveSchema,
  UseRequestSchema,
  UseCancelledSchema,
  UseSchema,
  UseParamsSchema,
  UserParamsSchema,
} from './schemas.js';

const client = { tags: ['takes'], security: [{ bearer: [] }] };

/** Body limit of a bulk issue: 1,000 user ids of 128 characters, each escaped to the worst case (`\\uXXXX`). */
export const MAX_BATCH_BODY_BYTES = 1024 * 1024;

/**
 * Hono would read `:batch` in the path as a parameter: the document gets the public path, the
 * router the same path with the colon inside a pattern (`/:op{issues:batch}`).
 */
const BATCH_ROUTER_PATH = '/v1/coupons/{id}/{op{issues:batch}}';

/** A route's path as the router serves it (`{id}` → `:id`), as `openapi()` registers it. */
const routerPath = (path: string) => path.replaceAll(/\/{(.+?)}/g, '/:$1');

/** The client routes whose body limit is not the default, at their router paths. */
export const TAKE_BODY_LIMITS: RouteBodyLimit[] = [{ path: routerPath(BATCH_ROUTER_PATH), maxBytes: MAX_BATCH_BODY_BYTES }];

const route = {
  issue: createRoute({
    ...client,
    operationId: 'issueCoupon',
    method: 'post',
    path: '/v1/coupons/{id}/issues',
    summary: 'Issue the coupon to a user (exactly once per Idempotency-Key)',
    request: {
      params: CouponParamsSchema,
      headers: IdempotencyHeadersSchema,
      body: { required: true, content: { 'application/json': { schema: IssueRequestSchema } } },
    },
    responses: { 201: json(IssueSchema, 'Issued'), ...errorResponses(400, 401, 404, 409, 415) },
  }),
  issueBatch: createRoute({
    ...client,
    operationId: 'issueCouponBatch',
    method: 'post',
    path: '/v1/coupons/{id}/issues:batch',
    summary: 'Issue the coupon to up to 1,000 users: one answer per user, each exactly once per Idempotency-Key',
    description:
      'Every user id is its own issue (all or nothing, in order; a repeated id is issued again, within the limits). ' +
      'With an Idempotency-Key, each item is named by the key, its user id and how often that id came before in the ' +
      'list, so retrying the batch (or any part of it) with the same key replays what was issued and runs the rest. ' +
      'Answers 200 with per-item results; 404, 409 NOT_ACTIVE or 503 STOCK_UNAVAILABLE only when every item was refused so.',
    request: {
      params: CouponParamsSchema,
      headers: IdempotencyHeadersSchema,
      body: { required: true, content: { 'application/json': { schema: BatchIssueRequestSchema } } },
    },
    responses: { 200: json(BatchIssueReportSchema, 'One result per user id'), ...errorResponses(400, 401, 404, 409, 415) },
  }),
  hold: createRoute({
    ...client,
    operationId: 'holdCoupon',
    method: 'post',
    path: '/v1/coupons/{id}/holds',
    summary: 'Hold a use for a checkout: taken now, given back by itself at expiresAt unless committed',
    request: { params: CouponParamsSchema, body: { required: true, content: { 'application/json': { schema: HoldRequestSchema } } } },
    responses: { 201: json(HoldSchema, 'The hold (the same one again for the same ownerId)'), ...errorResponses(400, 401, 404, 409, 415) },
  }),
  commitHold: createRoute({
    ...client,
    operationId: 'commitHold',
    method: 'post',
    path: '/v1/coupons/{id}/holds/{holdId}/commit',
    summary: 'Commit a hold: it becomes a use (cancel it as a use); 409 HOLD_EXPIRED once it was given back',
    request: { params: HoldParamsSchema },
    responses: { 200: json(HoldCommittedSchema, 'Committed (again: the same answer)'), ...errorResponses(401, 404, 409) },
  }),
  releaseHold: createRoute({
    ...client,
    operationId: 'releaseHold',
    method: 'post',
    path: '/v1/coupons/{id}/holds/{holdId}/release',
    summary: 'Release a hold before its time: its stock comes back once',
    request: { params: HoldParamsSchema },
    responses: { 200: json(HoldReleasedSchema, 'Released'), ...errorResponses(401, 404, 409) },
  }),
  cancelIssue: createRoute({
    ...client,
    operationId: 'cancelIssue',
    method: 'post',
    path: '/v1/coupons/{id}/issues/{issueId}/cancel',
    summary: 'Cancel an unused issue: its stock comes back once',
    request: { params: IssueParamsSchema },
    responses: { 200: json(IssueCancelledSchema, 'Cancelled'), ...errorResponses(401, 404, 409) },
  }),
  use: createRoute({
    ...client,
    operationId: 'useCoupon',
    method: 'post',
    path: '/v1/coupons/{id}/uses',
    summary: 'Use (redeem) the coupon (exactly once per Idempotency-Key)',
    request: {
      params: CouponParamsSchema,
      headers: IdempotencyHeadersSchema,
      body: { required: true, content: { 'application/json': { schema: UseRequestSchema } } },
    },
    responses: { 201: json(UseSchema, 'Used'), ...errorResponses(400, 401, 404, 409, 415) },
  }),
  cancelUse: createRoute({
    ...client,
    operationId: 'cancelUse',
    method: 'post',
    path: '/v1/coupons/{id}/uses/{useId}/cancel',
    summary: 'Cancel a use (order cancelled): its stock comes back once',
    request: { params: UseParamsSchema },
    responses: { 200: json(UseCancelledSchema, 'Cancelled'), ...errorResponses(401, 404, 409) },
  }),
  live: createRoute({
    ...client,
    operationId: 'getLiveStocks',
    method: 'get',
    path: '/v1/coupons/{id}/stocks/live',
    summary: 'Live remains, straight from the gauges',
    request: { params: CouponParamsSchema },
    responses: { 200: json(LiveSchema, 'Live stocks (null = unlimited)'), ...errorResponses(401, 404, 409) },
  }),
  userCoupons: createRoute({
    ...client,
    operationId: 'listUserCoupons',
    method: 'get',
    path: '/v1/users/{userId}/coupons',
    summary: "A user's coupons: issued, used, cancelled",
    request: { params: UserParamsSchema },
    responses: { 200: json(UserCouponsSchema, 'The user’s coupons'), ...errorResponses(400, 401) },
  }),
};

function takeInput(c: Context<AppEnv>, couponId: string, body: { userId: string; orderId?: string | null; discountAmount?: number }): TakeInput {
  const stated = body.discountAmount === undefined ? {} : { discountAmount: body.discountAmount };
  return {
    couponId,
    userId: body.userId,
    orderId: body.orderId ?? null,
    ...stated,
    idempotencyKey: c.req.header('idempotency-key') ?? null,
    caller: c.get('caller'),
    // The discount is part of the body: the same key with another amount is refused.
    fingerprint: fingerprint({ userId: body.userId, orderId: body.orderId ?? null, ...stated }),
  };
}

/** How a take's answer counts: by status, and a replay by its header. */
function outcomeOf(status: number, replayed: boolean): TakeOutcome {
  if (status < 300) return replayed ? 'replayed' : 'taken';
  if (status === 503) return 'unavailable';
  return status >= 500 ? 'error' : 'refused';
}

/** The ledger kind of a take route's kind: a hold takes a use. */
const ledgerKind = (kind: string) => (kind === 'hold' ? 'use' : kind);

/** Tells the runtime of a refusal the sale chart counts (a map increment; written later, in batches). */
function countRefusal(c: Context<AppEnv>, couponId: string, kind: string, code: ErrorCode | undefined): void {
  const { deps } = c.var.services;
  if (code && CHARTED_REFUSALS.has(code)) deps.onRefused?.(couponId, ledgerKind(kind), now(deps));
}

/** Counts a take once it is answered (a 503 included: it comes from the app's error handler). */
const countTake =
  (kind: string): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    await next();
    if (c.req.method !== 'POST') return;
    const { status } = c.res;
    c.var.metrics.take(kind, outcomeOf(status, c.res.headers.get('idempotent-replayed') === 'true'), status < 300 ? 'none' : (c.get('problemCode') ?? 'INTERNAL'));
    if (status === 409) countRefusal(c, c.req.param('id') ?? '', kind, c.get('problemCode'));
  };

export function takeRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.use('/v1/coupons/:id/issues', countTake('issue'));
  app.use('/v1/coupons/:id/uses', countTake('use'));
  app.use('/v1/coupons/:id/holds', countTake('hold'));

  app.openapi(route.issue, async (c) => {
    const { id } = c.req.valid('param');
    const result = await c.var.services.takes.issue(takeInput(c, id, c.req.valid('json')));
    if (!result.ok) return refuse(c, result);
    const { id: issueId, couponId, userId, remain, replayed } = result.value;
    if (replayed) c.header('Idempotent-Replayed', 'true');
    return c.json({ issueId, couponId, userId, remain }, 201);
  });

  app.openAPIRegistry.registerPath(route.issueBatch);
  app.openapi({ ...route.issueBatch, hide: true, path: BATCH_ROUTER_PATH }, async (c) => {
    const { id } = c.req.valid('param');
    const result = await c.var.services.takes.issueBatch({
      couponId: id,
      userIds: c.req.valid('json').userIds,
      idempotencyKey: c.req.header('idempotency-key') ?? null,
      caller: c.get('caller'),
    });
    if (!result.ok) return refuse(c, result);
    const results = result.value.map((item) =>
      item.ok
        ? { userId: item.userId, status: 201 as const, issueId: item.issueId, remain: item.remain, replayed: item.replayed }
        : { userId: item.userId, status: STATUS[item.code], code: item.code, detail: item.detail },
    );
    for (const item of result.value) {
      c.var.metrics.take('issue', item.ok ? (item.replayed ? 'replayed' : 'taken') : outcomeOf(STATUS[item.code], false), item.ok ? 'none' : item.code);
      if (!item.ok) countRefusal(c, id, 'issue', item.code);
    }
    const issued = results.filter((r) => r.status === 201).length;
    return c.json({ couponId: id, issued, refused: results.length - issued, results }, 200);
  });

  app.openapi(route.use, async (c) => {
    const { id } = c.req.valid('param');
    const result = await c.var.services.takes.use(takeInput(c, id, c.req.valid('json')));
    if (!result.ok) return refuse(c, result);
    const { id: useId, couponId, userId, remain, budgetRemain, replayed } = result.value;
    if (replayed) c.header('Idempotent-Replayed', 'true');
    return c.json({ useId, couponId, userId, remain, ...(budgetRemain === null ? {} : { budgetRemain }) }, 201);
  });

  app.openapi(route.hold, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const result = await c.var.services.takes.hold({
      couponId: id,
      userId: body.userId,
      ownerId: body.ownerId,
      ttlSeconds: body.ttlSeconds,
      ...(body.discountAmount === undefined ? {} : { discountAmount: body.discountAmount }),
      caller: c.get('caller'),
    });
    if (!result.ok) return refuse(c, result);
    const h = result.value;
    if (h.replayed) c.header('Idempotent-Replayed', 'true');
    const budget = h.budgetRemain === null ? {} : { budgetRemain: h.budgetRemain };
    return c.json({ holdId: h.id, couponId: h.couponId, userId: h.userId, ownerId: h.ownerId, expiresAt: h.expiresAt.toISOString(), remain: h.remain, ...budget }, 201);
  });

  app.openapi(route.commitHold, async (c) => {
    const { id, holdId } = c.req.valid('param');
    const result = await c.var.services.takes.commitHold(id, holdId);
    if (!result.ok) return refuse(c, result);
    const { couponId, userId, ownerId } = result.value;
    return c.json({ holdId, useId: holdId, couponId, userId, ownerId, status: 'committed' as const }, 200);
  });

  app.openapi(route.releaseHold, async (c) => {
    const { id, holdId } = c.req.valid('param');
    const result = await c.var.services.takes.releaseHold(id, holdId);
    if (!result.ok) return refuse(c, result);
    const { couponId, userId, orderId, remain } = result.value;
    return c.json({ holdId, couponId, userId, ownerId: orderId, status: 'released' as const, remain }, 200);
  });

  app.openapi(route.cancelIssue, async (c) => {
    const { id, issueId } = c.req.valid('param');
    const result = await c.var.services.takes.cancelIssue(id, issueId);
    if (!result.ok) return refuse(c, result);
    const { couponId, userId, status, remain } = result.value;
    return c.json({ issueId, couponId, userId, status, remain }, 200);
  });

  app.openapi(route.cancelUse, async (c) => {
    const { id, useId } = c.req.valid('param');
    const result = await c.var.services.takes.cancelUse(id, useId);
    if (!result.ok) return refuse(c, result);
    const { couponId, userId, orderId, status, remain } = result.value;
    return c.json({ useId, couponId, userId, orderId, status, remain }, 200);
  });

  app.openapi(route.live, async (c) => {
    const { id } = c.req.valid('param');
    const result = await c.var.services.live.read(id);
    return result.ok ? c.json(liveOut(result.value), 200) : refuse(c, result);
  });

  app.openapi(route.userCoupons, async (c) => {
    const { userId } = c.req.valid('param');
    const coupons = await userCouponsOf(c.var.services.deps, userId);
    return c.json({ userId, coupons: coupons.map(userCouponOut) }, 200);
  });

  return app;
}
