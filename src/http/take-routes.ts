/**
 * Client routes: issue, use, cancel, live stock, a user's coupons. The client token or the
 * admin token may call them. Their definitions (paths, schemas, documented answers):
 * `take-route-defs.ts`.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import type { TakeOutcome } from '../observe/metrics.js';
import { now } from '../coupon/deps.js';
import type { ErrorCode } from '../coupon/errors.js';
import { userCouponsOf } from '../coupon/user-coupons.js';
import { CHARTED_REFUSALS } from '../coupon/refusal-tally.js';
import type { TakeInput } from '../coupon/take-types.js';
import type { AppEnv } from './context.js';
import { fingerprint } from './fingerprint.js';
import { userCouponOut, liveOut } from './present.js';
import { BATCH_ROUTER_PATH, route } from './take-route-defs.js';
import { refuse, STATUS } from './problem.js';

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
