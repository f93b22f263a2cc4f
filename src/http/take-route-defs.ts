/**
 * The client routes' definitions: path, request schemas, documented answers, body limits. The
 * handlers that serve them: `take-routes.ts`.
 */
import { createRoute } from '@hono/zod-openapi';
import type { RouteBodyLimit } from './body-limit.js';
import { errorResponses, json } from './openapi.js';
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
export const BATCH_ROUTER_PATH = '/v1/coupons/{id}/{op{issues:batch}}';

/** A route's path as the router serves it (`{id}` → `:id`), as `openapi()` registers it. */
const routerPath = (path: string) => path.replaceAll(/\/{(.+?)}/g, '/:$1');

/** The client routes whose body limit is not the default, at their router paths. */
export const TAKE_BODY_LIMITS: RouteBodyLimit[] = [{ path: routerPath(BATCH_ROUTER_PATH), maxBytes: MAX_BATCH_BODY_BYTES }];

/** The client routes, as documented. */
export const route = {
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
