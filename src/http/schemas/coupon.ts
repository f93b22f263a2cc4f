/**
 * The coupon's schemas (admin routes and the live read): drafts in, coupons out, stocks, adjusts,
 * syncs and rebuilds. Each wire type below is inferred from its schema; `present.ts` builds them.
 */
import { z } from '@hono/zod-openapi';
import { COUPON_STATUSES, MAX_PER_USER_LIMIT, STOCK_ROWS } from '../../coupon/coupon.js';
import { PERIODS } from '../../stock/periods.js';
import { CouponParamsSchema, InstantSchema, MAX_COUNT, plain, text } from './common.js';

// The order of the bounds is checked here too (not only in the service) so that it is reported
// in errors[] together with every other problem of the body.
export const WindowInputSchema = z
  .object({ start: InstantSchema.nullable().optional(), end: InstantSchema.nullable().optional() })
  .strict()
  .refine((w) => !w.start || !w.end || Date.parse(w.start) < Date.parse(w.end), { path: ['end'], message: 'must be after start' })
  .openapi('WindowInput');

export const StockInputSchema = z
  .object({ total: z.number().int().min(0).max(MAX_COUNT) })
  .strict()
  .openapi('StockInput');

export const PeriodStockInputSchema = z
  .object({
    total: z.number().int().min(0).max(MAX_COUNT),
    period: z.enum(PERIODS).openapi({ description: "a calendar day or an ISO week (Monday first), in the service's TIME_ZONE" }),
  })
  .strict()
  .openapi('PeriodStockInput');

export const BudgetInputSchema = z
  .object({
    total: z.number().int().min(0).max(MAX_COUNT).openapi({ description: 'minor units (cents): 50000 EUR is €500.00', example: 50000 }),
    currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR').openapi({ example: 'EUR' }),
  })
  .strict()
  .openapi('BudgetInput');

const PerUserLimitSchema = z.number().int().min(1).max(MAX_PER_USER_LIMIT);

const specFields = {
  name: text(200).openapi({ example: 'First 1,000 users: 30% off' }),
  issueStock: StockInputSchema.nullable().optional(),
  useStock: StockInputSchema.nullable().optional(),
  budget: BudgetInputSchema.nullable().optional().openapi({ description: 'a money budget every use takes its discountAmount from; null = none' }),
  issuePeriodStock: PeriodStockInputSchema.nullable().optional().openapi({ description: 'issues per period, within issueStock; null = no period cap' }),
  usePeriodStock: PeriodStockInputSchema.nullable().optional().openapi({ description: 'uses per period, within useStock; null = no period cap' }),
  perUserIssueLimit: PerUserLimitSchema.nullable().optional(),
  perUserUseLimit: PerUserLimitSchema.nullable().optional(),
  issueWindow: WindowInputSchema.nullable().optional(),
  useWindow: WindowInputSchema.nullable().optional(),
};

export const CouponCreateSchema = z.object(specFields).strict().openapi('CouponCreate');

export const CouponPatchSchema = z
  .object({ ...specFields, name: specFields.name.optional() })
  .strict()
  .openapi('CouponPatch');

const WindowSchema = z.object({ start: z.string().nullable(), end: z.string().nullable() }).openapi('Window');

const StockSchema = z
  .object({ total: z.number().int(), remain: z.number().int(), syncedAt: z.string().nullable() })
  .openapi('Stock');

const BudgetSchema = z
  .object({ total: z.number().int(), remain: z.number().int(), syncedAt: z.string().nullable(), currency: z.string() })
  .openapi('Budget');

const PeriodStockSchema = z.object({ total: z.number().int(), period: z.enum(PERIODS) }).openapi('PeriodStock');

export const CouponSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.enum(COUPON_STATUSES),
    issueStock: StockSchema.nullable(),
    useStock: StockSchema.nullable(),
    budget: BudgetSchema.nullable(),
    issuePeriodStock: PeriodStockSchema.nullable(),
    usePeriodStock: PeriodStockSchema.nullable(),
    perUserIssueLimit: z.number().int().nullable(),
    perUserUseLimit: z.number().int().nullable(),
    issueWindow: WindowSchema.nullable(),
    useWindow: WindowSchema.nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Coupon');

export const CouponPageSchema = z
  .object({ items: z.array(CouponSchema), nextCursor: z.string().nullable() })
  .openapi('CouponPage');

export const ListQuerySchema = z.object({
  status: z.enum(COUPON_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  // Postgres refuses a NUL in text: checked here so a bad cursor is a 400, not a failed query.
  cursor: plain(z.string().max(64)).optional(),
});

export const StockParamsSchema = CouponParamsSchema.extend({
  stock: z.enum(STOCK_ROWS).openapi({ param: { name: 'stock', in: 'path' } }),
});

export const AdjustRequestSchema = z
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

export const AdjustedSchema = z
  .object({ couponId: z.string(), stock: z.enum(STOCK_ROWS), total: z.number().int(), remain: z.number().int() })
  .openapi('Adjusted');

const LiveStockSchema = z.object({ total: z.number().int(), remain: z.number().int() }).openapi('LiveStock');

const LivePeriodSchema = z
  .object({
    total: z.number().int(),
    remain: z.number().int(),
    period: z.enum(PERIODS),
    label: z.string().openapi({ example: '2026-12-02' }),
    resetsAt: z.string().openapi({ description: 'when the next period starts' }),
  })
  .openapi('LivePeriod');

export const LiveSchema = z
  .object({
    issue: LiveStockSchema.nullable(),
    use: LiveStockSchema.nullable(),
    budget: LiveStockSchema.optional().openapi({ description: 'the money budget left (minor units), when the coupon has one' }),
    holds: z.number().int().optional().openapi({ description: 'holds standing now (their uses are taken until committed, released or expired), when any' }),
    issuePeriod: LivePeriodSchema.optional().openapi({ description: 'the current period of issuePeriodStock, when the coupon has one' }),
    usePeriod: LivePeriodSchema.optional(),
  })
  .openapi('Live');

const StockSyncSchema = z
  .object({
    total: z.number().int(),
    remain: z.number().int(),
    syncedAt: z.string().nullable(),
    live: z.boolean(),
    ledger: z.number().int(),
    drift: z.number().int(),
  })
  .openapi('StockSync');

export const SyncReportSchema = z
  .object({
    couponId: z.string(),
    status: z.enum(COUPON_STATUSES),
    syncedAt: z.string(),
    drained: z.number().int(),
    issue: StockSyncSchema.nullable(),
    use: StockSyncSchema.nullable(),
    budget: StockSyncSchema.optional().openapi({ description: 'the money budget, when the coupon has one: its ledger is the discounts given' }),
    missing: z.array(z.enum(STOCK_ROWS)),
    drifted: z.array(z.enum(STOCK_ROWS)),
    repaired: z.array(z.enum(STOCK_ROWS)).openapi({ description: 'Stocks whose durable total lagged the live one (an adjust whose answer was lost) and was copied by this sync' }),
  })
  .openapi('SyncReport');

export const RebuildReportSchema = z
  .object({ couponId: z.string(), rebuilt: z.boolean(), gauges: z.number().int() })
  .openapi('RebuildReport');

export type WindowInput = z.infer<typeof WindowInputSchema>;
export type CouponPatch = z.infer<typeof CouponPatchSchema>;
export type CouponJson = z.infer<typeof CouponSchema>;
export type CouponPageJson = z.infer<typeof CouponPageSchema>;
export type AdjustedJson = z.infer<typeof AdjustedSchema>;
export type LiveJson = z.infer<typeof LiveSchema>;
export type SyncReportJson = z.infer<typeof SyncReportSchema>;
export type RebuildReportJson = z.infer<typeof RebuildReportSchema>;
