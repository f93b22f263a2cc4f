/**
 * One error shape for every failure: RFC 9457 `application/problem+json` with a stable `code`,
 * and one table from code to status.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorCode, Failure, FieldProblem } from '../coupon/errors.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** The code of the problem the request was answered with (request logs and metrics). */
    problemCode: ErrorCode;
  }
}

export const STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  NOT_EDITABLE: 409,
  NOT_ACTIVE: 409,
  INVALID_STATE: 409,
  SOLD_OUT: 409,
  PERIOD_SOLD_OUT: 409,
  BUDGET_EXHAUSTED: 409,
  HOLD_EXPIRED: 409,
  USER_LIMIT_REACHED: 409,
  NOT_ISSUED: 409,
  ALREADY_USED: 409,
  BELOW_ZERO: 409,
  IDEMPOTENCY_KEY_REUSED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  STOCK_UNAVAILABLE: 503,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL: 500,
};

const TITLE: Record<ErrorCode, string> = {
  VALIDATION_FAILED: 'The request is not valid',
  UNAUTHORIZED: 'A valid bearer token is required',
  FORBIDDEN: 'This token may not do that',
  NOT_FOUND: 'Not found',
  NOT_EDITABLE: 'Only drafts can be changed',
  NOT_ACTIVE: 'The coupon is not active',
  INVALID_STATE: 'Not allowed in the current state',
  SOLD_OUT: 'Sold out',
  PERIOD_SOLD_OUT: 'Sold out for this period',
  BUDGET_EXHAUSTED: 'The budget cannot cover this discount',
  HOLD_EXPIRED: 'The hold expired or was released',
  USER_LIMIT_REACHED: 'Per-user limit reached',
  NOT_ISSUED: 'The coupon was not issued to this user',
  ALREADY_USED: 'Already used',
  BELOW_ZERO: 'The remain would go below zero',
  IDEMPOTENCY_KEY_REUSED: 'Idempotency-Key reused with a different request',
  PAYLOAD_TOO_LARGE: 'The request body is too large',
  UNSUPPORTED_MEDIA_TYPE: 'Send application/json',
  STOCK_UNAVAILABLE: 'The live stock is unavailable',
  SERVICE_UNAVAILABLE: 'A dependency is unavailable',
  INTERNAL: 'Internal error',
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  requestId: string;
  errors?: FieldProblem[];
}

/** Builds the problem body for a code. */
export function problemBody(code: ErrorCode, detail: string, requestId: string, errors?: FieldProblem[]): Problem {
  const body: Problem = {
    type: `https://coupon-stock.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`,
    title: TITLE[code],
    status: STATUS[code],
    detail,
    code,
    requestId,
  };
  if (errors) body.errors = errors;
  return body;
}

/**
 * Answers with a problem. Typed `never` for route handlers: every route declares its problem
 * responses (`errorResponses`), but the typed-response check of `@hono/zod-openapi` does not
 * model `application/problem+json` bodies, so a problem may be returned from any handler.
 */
export function problem(c: Context, code: ErrorCode, detail: string, errors?: FieldProblem[]): never {
  c.set('problemCode', code);
  const requestId = (c.get('requestId') as string | undefined) ?? 'unknown';
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  // A store that is down or slow: clients that retry (with the same Idempotency-Key) wait a
  // moment first, so a burst of unknown outcomes does not become a storm that keeps it slow.
  if (STATUS[code] === 503) headers['retry-after'] = RETRY_AFTER_SECONDS;
  return c.body(JSON.stringify(problemBody(code, detail, requestId, errors)), STATUS[code], headers) as never;
}

/** What a 503 asks a client to wait before it retries. */
export const RETRY_AFTER_SECONDS = '1';

/** Answers with a service refusal. */
export const refuse = (c: Context, failure: Failure): never => problem(c, failure.code, failure.detail, failure.errors);
