/**
 * Request and response schemas: the HTTP contract of DESIGN.md, in zod, also the source of the
 * OpenAPI document. Unknown fields are refused so a typo (`issue_stock`) is never ignored.
 */
import { z } from '@hono/zod-openapi';
import { COUPON_STATUSES, MAX_PER_USER_LIMIT, STOCK_ROWS } from '../coupon/coupon.js';
import { ERROR_CODES } from '../coupon/errors.js';
import { MAX_BATCH } from '../coupon/takes.js';
import { PERIODS } from '../stock/periods.js';

/** Largest stock or delta accepted: well inside both Postgres bigint and a Lua double. */
export const MAX_COUNT = 1_000_000_000_000;

// No control characters: ids end up in keys, logs and headers. No byte order mark (U+FEFF):
// invisible, and a decoder drops it from the start of a value (PGlite does), so "\uFEFFbob" would
// be read back as "bob". No lone surrogates: they cannot be encoded as UTF-8, so a store would
// keep U+FFFD instead (two ids would become one).
const CONTROL = /[\u0000-\u001f\u007f-\u009f\ufeff]/;
const LONE_SURROGATE = /\p{Cs}/u;
const plain = (s: z.ZodString) =>
  s
    .refine((v) => !CONTROL.test(v), 'must not contain control characters or a byte order mark')
    .refine((v) => !LONE_SURROGATE.test(v), 'must be well-formed Unicode (no lone surrogates)');
const text = (max: number) => plain(z.string().min(1).max(max));

export const UserId = text(128).openapi({ example: 'user-42' });

const Instant = z.iso.datetime({ offset: true }).openapi({ example: '2026-12-01T00:00:00Z' });

// The order of the bounds is checked here too (not only in the service) so that it is reported
// in errors[] together with every other problem of the body.
export const WindowIn = z
  .object({ start: Instant.nullable().optional(), end: Instant.nullable().optional() })
  .strict()
  .refine((w) => !w.start || !w.end || Date.parse(w.start) < Date.parse(w.end), { path: ['end'], message: 'must be after start' })
  .openapi('WindowInput');

export const StockIn = z
  .object({ total: z.number().int().min(0).max(MAX_COUNT) })
  .strict()
  .openapi('StockInput');

export const PeriodStockIn = z
  .object({
    total: z.number().int().min(0).max(MAX_COUNT),
    period: z.enum(PERIODS).openapi({ description: "a calendar day or an ISO week (Monday first), in the service's TIME_ZONE" }),
  })
  .strict()
  .openapi('PeriodStockInput');

export const BudgetIn = z
  .object({
    total: z.number().int().min(0).max(MAX_COUNT).openapi({ description: 'minor units (cents): 50000 EUR is €500.00', example: 50000 }),
    currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR').openapi({ example: 'EUR' }),
  })
  .strict()
  .openapi('BudgetInput');

const Limit = z.number().int().min(1).max(MAX_PER_USER_LIMIT);

const specFields = {
  name: text(200).openapi({ example: 'First 1,000 users: 30% off' }),
  issueStock: StockIn.nullable().optional(),
  useStock: StockIn.nullable().optional(),
  budget: BudgetIn.nullable().optional().openapi({ description: 'a money budget every use takes its discountAmount from; null = none' }),
  issuePeriodStock: PeriodStockIn.nullable().optional().openapi({ description: 'issues per period, within issueStock; null = no period cap' }),
  usePeriodStock: PeriodStockIn.nullable().optional().openapi({ description: 'uses per period, within useStock; null = no period cap' }),
  perUserIssueLimit: Limit.nullable().optional(),
  perUserUseLimit: Limit.nullable().optional(),
  issueWindow: WindowIn.nullable().optional(),
  useWindow: WindowIn.nullable().optional(),
};

export const CouponCreate = z.object(specFields).strict().openapi('CouponCreate');
export const CouponPatch = z
  .object({ ...specFields, name: specFields.name.optional() })
  .strict()
  .openapi('CouponPatch');

const WindowOut = z.object({ start: z.string().nullable(), end: z.string().nullable() }).openapi('Window');
const StockOut = z
  .object({ total: z.number().int(), remain: z.number().int(), syncedAt: z.string().nullable() })
  .openapi('Stock');

const BudgetOut = z
  .object({ total: z.number().int(), remain: z.number().int(), syncedAt: z.string().nullable(), currency: z.string() })
  .openapi('Budget');
const PeriodStockOut = z.object({ total: z.number().int(), period: z.enum(PERIODS) }).openapi('PeriodStock');

export const Coupon = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.enum(COUPON_STATUSES),
    issueStock: StockOut.nullable(),
    useStock: StockOut.nullable(),
    budget: BudgetOut.nullable(),
    issuePeriodStock: PeriodStockOut.nullable(),
    usePeriodStock: PeriodStockOut.nullable(),
    perUserIssueLimit: z.number().int().nullable(),
    perUserUseLimit: z.number().int().nullable(),
    issueWindow: WindowOut.nullable(),
    useWindow: WindowOut.nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Coupon');

export const CouponPage = z
  .object({ items: z.array(Coupon), nextCursor: z.string().nullable() })
  .openapi('CouponPage');

export const ListQuery = z.object({
  status: z.enum(COUPON_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  // Postgres refuses a NUL in text: checked here so a bad cursor is a 400, not a failed query.
  cursor: plain(z.string().max(64)).optional(),
});

export const CouponParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, example: 'cpn_01jq0000000000000000000000' }),
});

export const StockParams = CouponParams.extend({
  stock: z.enum(STOCK_ROWS).openapi({ param: { name: 'stock', in: 'path' } }),
});

export const AdjustBody = z
  .object({
    delta: z
      .number()
      .int()
      .min(-MAX_COUNT)
      .max(MAX_COUNT)
      .refine((d) => d !== 0, 'must not be 0'),
  })
  .strict()
  .openapi('Adjust');

export const Adjusted = z
  .object({ couponId: z.string(), stock: z.enum(STOCK_ROWS), total: z.number().int(), remain: z.number().int() })
  .openapi('Adjusted');

const LiveStock = z.object({ total: z.number().int(), remain: z.number().int() }).openapi('LiveStock');
const LivePeriod = z
  .object({
    total: z.number().int(),
    remain: z.number().int(),
    period: z.enum(PERIODS),
    label: z.string().openapi({ example: '2026-12-02' }),
    resetsAt: z.string().openapi({ description: 'when the next period starts' }),
  })
  .openapi('LivePeriod');
export const Live = z
  .object({
    issue: LiveStock.nullable(),
    use: LiveStock.nullable(),
    budget: LiveStock.optional().openapi({ description: 'the money budget left (minor units), when the coupon has one' }),
    holds: z.number().int().optional().openapi({ description: 'holds standing now (their uses are taken until committed, released or expired), when any' }),
    issuePeriod: LivePeriod.optional().openapi({ description: 'the current period of issuePeriodStock, when the coupon has one' }),
    usePeriod: LivePeriod.optional(),
  })
  .openapi('Live');

const StockSync = z
  .object({
    total: z.number().int(),
    remain: z.number().int(),
    syncedAt: z.string().nullable(),
    live: z.boolean(),
    ledger: z.number().int(),
    drift: z.number().int(),
  })
  .openapi('StockSync');

export const SyncReport = z
  .object({
    couponId: z.string(),
    status: z.enum(COUPON_STATUSES),
    syncedAt: z.string(),
    drained: z.number().int(),
    issue: StockSync.nullable(),
    use: StockSync.nullable(),
    budget: StockSync.optional().openapi({ description: 'the money budget, when the coupon has one: its ledger is the discounts given' }),
    missing: z.array(z.enum(STOCK_ROWS)),
    drifted: z.array(z.enum(STOCK_ROWS)),
    repaired: z.array(z.enum(STOCK_ROWS)).openapi({ description: 'Stocks whose durable total lagged the live one (an adjust whose answer was lost) and was copied by this sync' }),
  })
  .openapi('SyncReport');

export const RebuildReport = z
  .object({ couponId: z.string(), rebuilt: z.boolean(), gauges: z.number().int() })
  .openapi('RebuildReport');

export const IdempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\x21-\x7e]+$/, 'must be 1–255 visible ASCII characters')
    .optional()
    .openapi({ param: { name: 'idempotency-key', in: 'header' }, example: 'order-7781-issue', description: 'Idempotency-Key: retries with the same key and body replay the first answer' }),
});

export const IssueBody = z.object({ userId: UserId }).strict().openapi('IssueRequest');
export const UseBody = z
  .object({
    userId: UserId,
    orderId: text(128).nullable().optional(),
    discountAmount: z
      .number()
      .int()
      .min(0)
      .max(MAX_COUNT)
      .optional()
      .openapi({ description: "the discount this use gives, in minor units, taken from the coupon's budget (required when it has one)", example: 1500 }),
  })
  .strict()
  .openapi('UseRequest');

/** A checkout's hold: reserve a use for `ttlSeconds`. */
export const HoldBody = z
  .object({
    userId: UserId,
    ownerId: text(128).openapi({ description: 'who holds (an order, a cart): the same owner holding again gets its hold back', example: 'order-7781' }),
    ttlSeconds: z.number().int().min(1).max(86_400).openapi({ description: 'how long the hold stands unless committed (at most a day)', example: 900 }),
    discountAmount: UseBody.shape.discountAmount,
  })
  .strict()
  .openapi('HoldRequest');

export const Held = z
  .object({
    holdId: z.string(),
    couponId: z.string(),
    userId: z.string(),
    ownerId: z.string(),
    expiresAt: z.string(),
    remain: z.number().int().nullable().openapi({ description: 'the use stock left' }),
    budgetRemain: z.number().int().optional(),
  })
  .openapi('Hold');

export const HoldParams = CouponParams.extend({
  holdId: z.string().openapi({ param: { name: 'holdId', in: 'path' } }),
});

export const HoldCommitted = z
  .object({ holdId: z.string(), useId: z.string(), couponId: z.string(), userId: z.string(), ownerId: z.string().nullable(), status: z.literal('committed') })
  .openapi('HoldCommitted');

export const HoldReleased = z
  .object({ holdId: z.string(), couponId: z.string(), userId: z.string(), ownerId: z.string().nullable(), status: z.literal('released'), remain: z.number().int().nullable() })
  .openapi('HoldReleased');

/** A bulk issue: up to 1,000 users, repeats allowed (each occurrence is its own take). */
export const BatchIssueBody = z
  .object({ userIds: z.array(UserId).min(1).max(MAX_BATCH) })
  .strict()
  .openapi('BatchIssueRequest');

const BatchIssued = z
  .object({
    userId: z.string(),
    status: z.literal(201),
    issueId: z.string(),
    remain: z.number().int().nullable(),
    replayed: z.boolean(),
  })
  .openapi('BatchIssued');
const BatchRefused = z
  .object({
    userId: z.string(),
    status: z.number().int().openapi({ description: 'the status a single issue would have answered (409, 503)' }),
    code: z.enum(ERROR_CODES),
    detail: z.string(),
  })
  .openapi('BatchRefused');

export const BatchIssueReport = z
  .object({
    couponId: z.string(),
    issued: z.number().int().openapi({ description: 'items issued by this request or replayed from an earlier one' }),
    refused: z.number().int(),
    results: z.array(z.union([BatchIssued, BatchRefused])).openapi({ description: 'one per user id, in the order sent' }),
  })
  .openapi('BatchIssueReport');

export const Issued = z
  .object({ issueId: z.string(), couponId: z.string(), userId: z.string(), remain: z.number().int().nullable() })
  .openapi('Issue');
export const Used = z
  .object({
    useId: z.string(),
    couponId: z.string(),
    userId: z.string(),
    remain: z.number().int().nullable(),
    budgetRemain: z.number().int().optional().openapi({ description: 'the budget left (minor units), when the coupon has one' }),
  })
  .openapi('Use');

export const IssueParams = CouponParams.extend({
  issueId: z.string().openapi({ param: { name: 'issueId', in: 'path' } }),
});
export const UseParams = CouponParams.extend({
  useId: z.string().openapi({ param: { name: 'useId', in: 'path' } }),
});

export const IssueCancelled = z
  .object({
    issueId: z.string(),
    couponId: z.string(),
    userId: z.string(),
    status: z.literal('cancelled'),
    remain: z.number().int().nullable(),
  })
  .openapi('IssueCancelled');
export const UseCancelled = z
  .object({
    useId: z.string(),
    couponId: z.string(),
    userId: z.string(),
    orderId: z.string().nullable(),
    status: z.literal('cancelled'),
    remain: z.number().int().nullable(),
  })
  .openapi('UseCancelled');

export const UserParams = z.object({
  userId: UserId.openapi({ param: { name: 'userId', in: 'path' } }),
});

const HoldingRecord = z
  .object({
    id: z.string(),
    orderId: z.string().nullable(),
    at: z.string(),
    status: z.enum(['active', 'cancelled']),
    cancelledAt: z.string().nullable(),
  })
  .openapi('HoldingRecord');

export const Holdings = z
  .object({
    userId: z.string(),
    coupons: z.array(
      z.object({
        couponId: z.string(),
        issued: z.number().int(),
        used: z.number().int(),
        cancelled: z.number().int(),
        issues: z.array(HoldingRecord),
        uses: z.array(HoldingRecord),
      }),
    ),
  })
  .openapi('Holdings');

export const Health = z
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
