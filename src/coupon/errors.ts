/**
 * The closed set of error codes a coupon operation can answer with. The HTTP layer maps each
 * to one status in one table (`src/http/problem.ts`); nothing else decides a status.
 */
export const ERROR_CODES = [
  'VALIDATION_FAILED',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'NOT_EDITABLE',
  'NOT_ACTIVE',
  'INVALID_STATE',
  'SOLD_OUT',
  'PERIOD_SOLD_OUT',
  'BUDGET_EXHAUSTED',
  'HOLD_EXPIRED',
  'USER_LIMIT_REACHED',
  'NOT_ISSUED',
  'ALREADY_USED',
  'BELOW_ZERO',
  'IDEMPOTENCY_KEY_REUSED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'STOCK_UNAVAILABLE',
  'SERVICE_UNAVAILABLE',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** A refusal: data, not an exception. */
export interface Failure {
  ok: false;
  code: ErrorCode;
  detail: string;
  /** Every validation problem, for `VALIDATION_FAILED`. */
  errors?: FieldProblem[];
}

export interface FieldProblem {
  path: string;
  message: string;
}

export type Result<T> = { ok: true; value: T } | Failure;

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = (code: ErrorCode, detail: string, errors?: FieldProblem[]): Failure =>
  errors ? { ok: false, code, detail, errors } : { ok: false, code, detail };
