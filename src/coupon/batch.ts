/**
 * Bulk issues: one coupon to many users, each its own all-or-nothing take with its own answer,
 * sent in chunks that travel together.
 */
import { unavailableReason, type CouponDeps } from './deps.js';
import { fail, ok, type Failure, type Result } from './errors.js';
import type { TakeOne } from './take-types.js';

/** A bulk issue: one coupon to many users (`issueBatch`). */
export interface BatchInput {
  couponId: string;
  userIds: readonly string[];
  /** The request's `Idempotency-Key`: with it each item is done once (see `batchKey`). */
  idempotencyKey: string | null;
  caller: string;
}

/** One user's outcome in a bulk issue, in the order of the request. */
export type BatchItem =
  | { userId: string; ok: true; issueId: string; remain: number | null; replayed: boolean }
  | { userId: string; ok: false; code: Failure['code']; detail: string };

/** Most users in one bulk issue. */
export const MAX_BATCH = 1_000;
/**
 * Takes sent together: on the Worker the Upstash client pipelines the calls made in one tick,
 * on Node the coalescer those of one turn, so each chunk is one round trip to Redis.
 */
export const BATCH_CHUNK = 100;

/** Refusals that belong to the coupon, not to an item: if every item has one, the batch as a whole has it. */
const COUPON_LEVEL: readonly Failure['code'][] = ['NOT_FOUND', 'NOT_ACTIVE', 'STOCK_UNAVAILABLE'];

/** A batch item's key already names its user, its whole request: every item has one fingerprint. */
const BATCH_FINGERPRINT = 'batch-item';

/**
 * The idempotency key of item `occurrence` of `userId` in a batch sent with `key`: a retry of
 * the batch, or of any part of it, with the same key replays what was done and runs the rest.
 * Lengths make it unambiguous whatever the key and the user id contain.
 */
const batchKey = (key: string, userId: string, occurrence: number) => `${key.length}:${key}:${occurrence}:${userId}`;

/**
 * Issues the coupon to each user, in chunks of `BATCH_CHUNK` takes sent together. Refused as a
 * whole only when every item was refused for a reason of the coupon's (unknown, not active,
 * stock unavailable).
 */
export async function issueBatch(deps: Pick<CouponDeps, 'coupons'>, take: TakeOne, input: BatchInput): Promise<Result<BatchItem[]>> {
  const seen = new Map<string, number>();
  let explained: Promise<Failure> | null = null;
  // Why the gauges are missing is the same for every item: Postgres is asked once.
  const explain = () => (explained ??= deps.coupons.get(input.couponId).then((c) => unavailableReason(input.couponId, c)));
  const items: BatchItem[] = [];
  for (let i = 0; i < input.userIds.length; i += BATCH_CHUNK) {
    const chunk = input.userIds.slice(i, i + BATCH_CHUNK).map((userId) => {
      const occurrence = seen.get(userId) ?? 0;
      seen.set(userId, occurrence + 1);
      const key = input.idempotencyKey === null ? null : batchKey(input.idempotencyKey, userId, occurrence);
      return { userId, key };
    });
    // Sent together and run in list order: the first users of the list get the stock.
    const order = `batch:${crypto.randomUUID()}`;
    const results = await Promise.all(
      chunk.map(({ userId, key }) =>
        take('issue', { couponId: input.couponId, userId, idempotencyKey: key, caller: input.caller, fingerprint: BATCH_FINGERPRINT }, { scope: 'issue-batch', explain, order }),
      ),
    );
    results.forEach((r, j) => {
      const userId = chunk[j]?.userId ?? '';
      items.push(r.ok ? { userId, ok: true, issueId: r.value.id, remain: r.value.remain, replayed: r.value.replayed } : { userId, ok: false, code: r.code, detail: r.detail });
    });
  }
  const [first] = items;
  if (first && !first.ok && COUPON_LEVEL.includes(first.code) && items.every((it) => !it.ok && it.code === first.code)) {
    return fail(first.code, first.detail);
  }
  return ok(items);
}
