/**
 * Shared pieces of route definitions: JSON bodies and the problem responses every route spreads in.
 */
import type { z } from '@hono/zod-openapi';
import { ProblemSchema } from './schemas.js';

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

const DESCRIPTIONS = {
  400: 'VALIDATION_FAILED: every problem is listed in errors[]',
  401: 'UNAUTHORIZED: no or a wrong bearer token',
  403: 'FORBIDDEN: the client token on an admin route',
  404: 'NOT_FOUND',
  409: 'A refusal: the code says which',
  413: 'PAYLOAD_TOO_LARGE: the body is over the limit (16 KiB; 1 MiB for a bulk issue), whatever the route',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  500: 'INTERNAL: an unexpected error, logged with this requestId (never a stack trace)',
  503:
    'STOCK_UNAVAILABLE (the live stock is missing, lost, unreachable or past its deadline) or SERVICE_UNAVAILABLE ' +
    '(the database is unreachable or past its deadline): nothing is known to have happened; retry, with the same Idempotency-Key where the route takes one',
} as const;

type ErrorStatus = keyof typeof DESCRIPTIONS;

/**
 * Answered by any route under /v1: the body limit runs before the route (a route that takes no
 * body still refuses a large one), each route reaches a store (so may find it down), and any may
 * fail unexpectedly.
 */
const ALWAYS = [413, 500, 503] as const;

/** Problem responses for the given statuses, and for 413, 500 and 503, which any route under /v1 may answer. */
export function errorResponses<S extends Exclude<ErrorStatus, (typeof ALWAYS)[number]>>(...statuses: S[]) {
  type Status = S | (typeof ALWAYS)[number];
  const out = {} as Record<Status, { description: string; content: { 'application/problem+json': { schema: typeof ProblemSchema } } }>;
  for (const status of [...statuses, ...ALWAYS].sort((a, b) => a - b) as Status[]) {
    out[status] = { description: DESCRIPTIONS[status], content: { 'application/problem+json': { schema: ProblemSchema } } };
  }
  return out;
}
