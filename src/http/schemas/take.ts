/**
 * The client routes' schemas: issue, use, hold, bulk issue, cancels and a user's coupons. Each
 * wire type below is inferred from its schema.
 */
import { z } from '@hono/zod-openapi';
import { MAX_BATCH } from '../../coupon/batch.js';
import { ERROR_CODES } from '../../coupon/errors.js';
import { CouponParamsSchema, idParam, MAX_COUNT, text, UserIdSchema } from './common.js';

export const IssueRequestSchema = z.object({ userId: UserIdSchema }).strict().openapi('IssueRequest');

export const UseRequestSchema = z
  .object({
    userId: UserIdSchema,
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
export const HoldRequestSchema = z
  .object({
    userId: UserIdSchema,
    ownerId: text(128).openapi({ description: 'who holds (an order, a cart): the same owner holding again gets its hold back', example: 'order-7781' }),
    ttlSeconds: z.number().int().min(1).max(86_400).openapi({ description: 'how long the hold stands unless committed (at most a day)', example: 900 }),
    discountAmount: UseRequestSchema.shape.discountAmount,
  })
  .strict()
  .openapi('HoldRequest');

export const HoldSchema = z
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

export const HoldParamsSchema = CouponParamsSchema.extend({
  holdId: idParam('holdId'),
});

export const HoldCommittedSchema = z
  .object({ holdId: z.string(), useId: z.string(), couponId: z.string(), userId: z.string(), ownerId: z.string().nullable(), status: z.literal('committed') })
  .openapi('HoldCommitted');

export const HoldReleasedSchema = z
  .object({ holdId: z.string(), couponId: z.string(), userId: z.string(), ownerId: z.string().nullable(), status: z.literal('released'), remain: z.number().int().nullable() })
  .openapi('HoldReleased');

/** A bulk issue: up to 1,000 users, repeats allowed (each occurrence is its own take). */
export const BatchIssueRequestSchema = z
  .object({ userIds: z.array(UserIdSchema).min(1).max(MAX_BATCH) })
  .strict()
  .openapi('BatchIssueRequest');

const BatchIssuedSchema = z
  .object({
    userId: z.string(),
    status: z.literal(201),
    issueId: z.string(),
    remain: z.number().int().nullable(),
    replayed: z.boolean(),
  })
  .openapi('BatchIssued');

const BatchRefusedSchema = z
  .object({
    userId: z.string(),
    status: z.number().int().openapi({ description: 'the status a single issue would have answered (409, 503)' }),
    code: z.enum(ERROR_CODES),
    detail: z.string(),
  })
  .openapi('BatchRefused');

export const BatchIssueReportSchema = z
  .object({
    couponId: z.string(),
    issued: z.number().int().openapi({ description: 'items issued by this request or replayed from an earlier one' }),
    refused: z.number().int(),
    results: z.array(z.union([BatchIssuedSchema, BatchRefusedSchema])).openapi({ description: 'one per user id, in the order sent' }),
  })
  .openapi('BatchIssueReport');

export const IssueSchema = z
  .object({ issueId: z.string(), couponId: z.string(), userId: z.string(), remain: z.number().int().nullable() })
  .openapi('Issue');

export const UseSchema = z
  .object({
    useId: z.string(),
    couponId: z.string(),
    userId: z.string(),
    remain: z.number().int().nullable(),
    budgetRemain: z.number().int().optional().openapi({ description: 'the budget left (minor units), when the coupon has one' }),
  })
  .openapi('Use');

export const IssueParamsSchema = CouponParamsSchema.extend({
  issueId: idParam('issueId'),
});

export const UseParamsSchema = CouponParamsSchema.extend({
  useId: idParam('useId'),
});

export const IssueCancelledSchema = z
  .object({
    issueId: z.string(),
    couponId: z.string(),
    userId: z.string(),
    status: z.literal('cancelled'),
    remain: z.number().int().nullable(),
  })
  .openapi('IssueCancelled');

export const UseCancelledSchema = z
  .object({
    useId: z.string(),
    couponId: z.string(),
    userId: z.string(),
    orderId: z.string().nullable(),
    status: z.literal('cancelled'),
    remain: z.number().int().nullable(),
  })
  .openapi('UseCancelled');

export const UserParamsSchema = z.object({
  userId: UserIdSchema.openapi({ param: { name: 'userId', in: 'path' } }),
});

const UserCouponOperationSchema = z
  .object({
    id: z.string(),
    orderId: z.string().nullable(),
    at: z.string(),
    status: z.enum(['active', 'cancelled']),
    cancelledAt: z.string().nullable(),
  })
  .openapi('HoldingRecord');

export const UserCouponsSchema = z
  .object({
    userId: z.string(),
    coupons: z.array(
      z.object({
        couponId: z.string(),
        issued: z.number().int(),
        used: z.number().int(),
        cancelled: z.number().int(),
        issues: z.array(UserCouponOperationSchema),
        uses: z.array(UserCouponOperationSchema),
      }),
    ),
  })
  .openapi('Holdings');

export type IssueJson = z.infer<typeof IssueSchema>;
export type UseJson = z.infer<typeof UseSchema>;
export type HoldJson = z.infer<typeof HoldSchema>;
export type HoldCommittedJson = z.infer<typeof HoldCommittedSchema>;
export type HoldReleasedJson = z.infer<typeof HoldReleasedSchema>;
export type BatchIssueReportJson = z.infer<typeof BatchIssueReportSchema>;
export type IssueCancelledJson = z.infer<typeof IssueCancelledSchema>;
export type UseCancelledJson = z.infer<typeof UseCancelledSchema>;
export type UserCouponsJson = z.infer<typeof UserCouponsSchema>;
