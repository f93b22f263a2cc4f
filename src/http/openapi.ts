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
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  503: 'STOCK_UNAVAILABLE: the live stock cannot be read; nothing was taken',
} as const;

type ErrorStatus = keyof typeof DESCRIPTIONS;

/** Problem responses for the given statuses. */
export function errorResponses<S extends ErrorStatus>(...statuses: S[]) {
  const out = {} as Record<S, { description: string; content: { 'application/problem+json': { schema: typeof ProblemSchema } } }>;
  for (const status of statuses) {
    out[status] = { description: DESCRIPTIONS[status], content: { 'application/problem+json': { schema: ProblemSchema } } };
  }
  return out;
}
