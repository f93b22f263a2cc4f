/**
 * What every route's schemas share: text rules, the ids in paths, the Idempotency-Key header,
 * the problem body and the health answer.
 */
import { z } from '@hono/zod-openapi';
import { ERROR_CODES } from '../../coupon/errors.js';
import { ID_PATTERN } from '../../coupon/ids.js';

/** Largest stock or delta accepted: well inside both Postgres bigint and a Lua double. */
export const MAX_COUNT = 1_000_000_000_000;

// No control characters: ids end up in keys, logs and headers. No byte order mark (U+FEFF):
// invisible, and a decoder drops it from the start of a value (PGlite does), so "\uFEFFbob" would
// be read back as "bob". No lone surrogates: they cannot be encoded as UTF-8, so a store would
// keep U+FFFD instead (two ids would become one).
const CONTROL = /[\u0000-\u001f\u007f-\u009f\ufeff]/;

const LONE_SURROGATE = /\p{Cs}/u;

export const plain = (s: z.ZodString) =>
  s
    .refine((v) => !CONTROL.test(v), 'must not contain control characters or a byte order mark')
    .refine((v) => !LONE_SURROGATE.test(v), 'must be well-formed Unicode (no lone surrogates)');

export const text = (max: number) => plain(z.string().min(1).max(max));

export const UserIdSchema = text(128).openapi({ example: 'user-42' });

export const InstantSchema = z.iso.datetime({ offset: true }).openapi({ example: '2026-12-01T00:00:00Z' });

/**
 * Path parameters that name a resource by its id, and the resource each names. An id of the
 * wrong shape names nothing: the route answers 404 for it (see `unknownIdProblem`), as for an
 * id of the right shape that is not there, before any store is asked.
 */
export const ID_PARAMS = { id: 'coupon', holdId: 'hold', issueId: 'issue', useId: 'use' } as const;
export type IdParam = keyof typeof ID_PARAMS;

/** The schema of id parameter `name` (its shape checked by a refinement, which the document does not show). */
export const idParam = (name: IdParam, example?: string) =>
  z
    .string()
    .refine((v) => ID_PATTERN.test(v), { message: `no ${ID_PARAMS[name]} has an id of this shape` })
    .openapi({ param: { name, in: 'path' }, ...(example === undefined ? {} : { example }) });

export const CouponParamsSchema = z.object({ id: idParam('id', 'cpn_01jq0000000000000000000000') });

export const IdempotencyHeadersSchema = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\x21-\x7e]+$/, 'must be 1–255 visible ASCII characters')
    .optional()
    .openapi({ param: { name: 'idempotency-key', in: 'header' }, example: 'order-7781-issue', description: 'Idempotency-Key: retries with the same key and body replay the first answer' }),
});

export const HealthSchema = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    runtime: z.enum(['node', 'workerd']),
    gauges: z.enum(['redis', 'postgres']),
    /** How the gauges are reached: Upstash REST, one Redis over RESP, a Redis Cluster, or the Postgres gauge. */
    gaugeMode: z.enum(['upstash', 'redis', 'cluster', 'postgres']),
    db: z.enum(['postgres', 'pglite']),
    checks: z.object({ gauges: z.enum(['up', 'down']), db: z.enum(['up', 'down']) }),
  })
  .openapi('Health');

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.enum(ERROR_CODES),
    requestId: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem');

export type Health = z.infer<typeof HealthSchema>;
export type Problem = z.infer<typeof ProblemSchema>;
