/**
 * The gauge in Postgres: the embedded default (PGlite) and the benchmark baseline. Takes are
 * group-committed: those of a scope that arrive while its batch commits go together into the
 * next transaction (`take-batcher.ts`, `gauge-batch.ts`); every other operation is one
 * transaction. Rows are locked in one global order (operation rows, the policy, then gauges
 * sorted by key), so concurrent transactions queue instead of deadlocking, and every check runs
 * on locked, current values before anything is written. Every gauge write is still a conditional
 * `UPDATE … WHERE remain - n >= 0` (and the table has a check constraint), so "never below zero"
 * holds in the statement itself, not only through the locks. On PGlite (one connection)
 * drizzle's transactions queue on PGlite's own mutex, so transactions run one after another.
 */
import { and, asc, eq, gt, inArray, isNull, like, lt, lte, sql } from 'drizzle-orm';
import type {
  AdjustCommand,
  AdjustResult,
  CommitCommand,
  CommitResult,
  GaugeLoad,
  GaugePort,
  LiveGauge,
  Policy,
  RestoreCommand,
  RestoreResult,
  SealResult,
  SetOpenResult,
  TakeCommand,
  TakeResult,
} from '../../stock/gauge.js';
import type { Db } from './db.js';
import { commitBatch } from './gauge-batch.js';
import { atomically, prefixOf, Refused, startsWith } from './gauge-sql.js';
import { takeIn } from './gauge-take.js';
import { lockPolicy, restoreIn } from './gauge-tx.js';
import { gaugeAdjustments, gaugeOperations, gaugePolicies, gauges } from './schema.js';
import { TakeBatcher, type BatchStats } from './take-batcher.js';

/** How long an archived scope's take records stay to answer retried takes (Redis: the idempotency TTL). */
const REPLAY_KEPT_MS = 7 * 24 * 3600 * 1000;

/** Holds given back before a take decides (each in its own transaction); more left due makes a refusal `unsettled`. */
const HOLDS_PER_TAKE = 1000;

export class PostgresGauge implements GaugePort {
  readonly name = 'postgres' as const;
  private readonly db: Db;
  private readonly batcher: TakeBatcher | null;

  /** `groupCommit: false` runs each take in its own transaction (the benchmark's "before"). */
  constructor({ db, groupCommit = true }: { db: Db; groupCommit?: boolean }) {
    this.db = db;
    this.batcher = groupCommit ? new TakeBatcher((prefix, cmds) => this.takeMany(prefix, cmds)) : null;
  }

  /** Takes arriving while a batch of the scope commits are decided and committed together (`take-batcher.ts`). */
  async take(cmd: TakeCommand): Promise<TakeResult> {
    if (this.batcher) return this.batcher.take(cmd);
    await this.expireDue(cmd.prefix, cmd.now, HOLDS_PER_TAKE);
    return atomically(this.db, (tx) => takeIn(tx, cmd));
  }

  /** Batch sizes and commit times of the group commit so far (`null` without it). */
  batchStats(): BatchStats | null {
    return this.batcher?.stats() ?? null;
  }

  /** One batch; holds whose time is up give back first (own transactions, once per batch), so its takes can have them. */
  private async takeMany(prefix: string, cmds: TakeCommand[]) {
    await this.expireDue(prefix, Math.max(...cmds.map((c) => c.now)), HOLDS_PER_TAKE);
    return commitBatch(this.db, prefix, cmds);
  }

  async restore(cmd: RestoreCommand): Promise<RestoreResult> {
    // Holds whose time is up give back first: a cancel refused because a dead hold still holds
    // the user's coupon would be a false refusal.
    await this.expireDue(cmd.prefix, cmd.now, HOLDS_PER_TAKE);
    return atomically(this.db, (tx) => restoreIn(tx, cmd));
  }

  async commit(cmd: CommitCommand): Promise<CommitResult> {
    return atomically(this.db, async (tx): Promise<CommitResult> => {
      const [op] = await tx
        .select()
        .from(gaugeOperations)
        .where(and(eq(gaugeOperations.opId, cmd.opId), eq(gaugeOperations.prefix, cmd.prefix)))
        .for('update');
      if (!op) return { ok: false, reason: 'not_found' };
      if (!op.holdExpiresAt) return { ok: false, reason: 'not_hold' };
      const policy = await lockPolicy(tx, cmd.prefix);
      // Sealed first (as on Redis, where the record went with the archive); then committed before
      // given back: a retried commit replays its answer even once the use was cancelled.
      if (policy?.sealed) return { ok: false, reason: 'sealed' };
      if (op.committedAt) return { ok: true, committed: false, subject: op.subject, ref: op.ref };
      if (op.restoredAt) return { ok: false, reason: 'expired' };
      if (!policy) return { ok: false, reason: 'unavailable' };
      if (op.holdExpiresAt.getTime() <= cmd.now) {
        await restoreIn(tx, { prefix: cmd.prefix, opId: cmd.opId, kind: op.kind, now: cmd.now });
        return { ok: false, reason: 'expired' };
      }
      await tx.update(gaugeOperations).set({ committedAt: new Date(cmd.now) }).where(eq(gaugeOperations.opId, op.opId));
      return { ok: true, committed: true, subject: op.subject, ref: op.ref };
    });
  }

  expireHolds(prefix: string, now: number): Promise<number> {
    return this.expireDue(prefix, now, 10_000);
  }

  /** Holds are rows of the operations table: there is no separate list to lose. */
  async relistHolds(prefix: string): Promise<number> {
    const [row] = await this.db
      .select({ n: sql`count(*)`.mapWith(Number) })
      .from(gaugeOperations)
      .where(and(eq(gaugeOperations.prefix, prefix), sql`${gaugeOperations.holdExpiresAt} is not null`, isNull(gaugeOperations.restoredAt), isNull(gaugeOperations.committedAt)));
    return row?.n ?? 0;
  }

  async activeHolds(prefix: string, now: number): Promise<number> {
    const [row] = await this.db
      .select({ n: sql`count(*)`.mapWith(Number) })
      .from(gaugeOperations)
      .where(and(eq(gaugeOperations.prefix, prefix), gt(gaugeOperations.holdExpiresAt, new Date(now)), isNull(gaugeOperations.restoredAt), isNull(gaugeOperations.committedAt)));
    return row?.n ?? 0;
  }

  /**
   * Seals the scope: the policy row is locked for update (takes in flight hold it shared, so they
   * finish first), every standing hold is given back, and the policy is marked sealed, in one
   * transaction.
   */
  async seal(prefix: string, now: number): Promise<SealResult> {
    return atomically(this.db, async (tx): Promise<SealResult> => {
      const [policy] = await tx.select().from(gaugePolicies).where(eq(gaugePolicies.prefix, prefix)).for('update');
      if (!policy) return { found: false, given: 0, stuck: 0 };
      let given = 0;
      let stuck = 0;
      if (!policy.sealed) {
        const standing = await tx
          .select({ opId: gaugeOperations.opId, kind: gaugeOperations.kind })
          .from(gaugeOperations)
          .where(and(eq(gaugeOperations.prefix, prefix), isNull(gaugeOperations.restoredAt), isNull(gaugeOperations.committedAt), sql`${gaugeOperations.holdExpiresAt} is not null`))
          .orderBy(asc(gaugeOperations.holdExpiresAt));
        for (const op of standing) {
          const result = await restoreIn(tx, { prefix, opId: op.opId, kind: op.kind, now, mode: 'hold' }, { sealing: true });
          if (result.ok) given += 1;
          else stuck += 1;
        }
        await tx.update(gaugePolicies).set({ open: false, sealed: true }).where(eq(gaugePolicies.prefix, prefix));
      }
      return { found: true, given, stuck };
    });
  }

  /** Gives back up to `limit` holds of a scope whose time is up, soonest first; returns how many were given back. */
  private async expireDue(prefix: string, now: number, limit: number): Promise<number> {
    const due = await this.db
      .select({ opId: gaugeOperations.opId, kind: gaugeOperations.kind })
      .from(gaugeOperations)
      .where(
        and(
          eq(gaugeOperations.prefix, prefix),
          lte(gaugeOperations.holdExpiresAt, new Date(now)),
          isNull(gaugeOperations.restoredAt),
          isNull(gaugeOperations.committedAt),
        ),
      )
      .orderBy(asc(gaugeOperations.holdExpiresAt))
      .limit(limit);
    let given = 0;
    for (const op of due) {
      const result = await atomically(this.db, (tx) => restoreIn(tx, { prefix, opId: op.opId, kind: op.kind, now, mode: 'hold' }));
      if (result.ok && result.restored) given += 1;
    }
    return given;
  }

  /**
   * Claims the adjust's id first (a concurrent retry waits, then replays), then changes the
   * gauge under the scope's policy lock; a refusal rolls the claim back.
   */
  async adjust(cmd: AdjustCommand): Promise<AdjustResult> {
    return atomically(this.db, async (tx): Promise<AdjustResult> => {
      const claimed = await tx
        .insert(gaugeAdjustments)
        .values({ opId: cmd.opId, prefix: cmd.prefix, key: cmd.key, fingerprint: cmd.fingerprint, total: 0, remain: 0, version: 0, at: new Date() })
        .onConflictDoNothing()
        .returning({ opId: gaugeAdjustments.opId });
      if (claimed.length === 0) {
        const [first] = await tx.select().from(gaugeAdjustments).where(eq(gaugeAdjustments.opId, cmd.opId));
        if (!first || first.fingerprint !== cmd.fingerprint || first.prefix !== cmd.prefix) return { ok: false, reason: 'conflict' };
        return { ok: true, total: first.total, remain: first.remain, version: first.version, replayed: true };
      }
      const policy = await lockPolicy(tx, cmd.prefix);
      if (!policy) throw new Refused<AdjustResult>({ ok: false, reason: 'unavailable' });
      if (policy.sealed) throw new Refused<AdjustResult>({ ok: false, reason: 'sealed' });
      const [row] = await tx
        .update(gauges)
        .set({ total: sql`${gauges.total} + ${cmd.delta}`, remain: sql`${gauges.remain} + ${cmd.delta}`, version: sql`${gauges.version} + 1` })
        .where(and(eq(gauges.key, cmd.key), sql`${gauges.remain} + ${cmd.delta} >= 0`))
        .returning({ total: gauges.total, remain: gauges.remain, version: gauges.version });
      if (!row) {
        const [exists] = await tx.select({ key: gauges.key }).from(gauges).where(eq(gauges.key, cmd.key));
        throw new Refused<AdjustResult>({ ok: false, reason: exists ? 'below_zero' : 'unavailable' });
      }
      await tx.update(gaugeAdjustments).set(row).where(eq(gaugeAdjustments.opId, cmd.opId));
      return { ok: true, ...row, replayed: false };
    });
  }

  /** `expiresAt` is not kept: a period's rows are small and go with the scope (`drop`). A sealed scope loads nothing. */
  async load(loads: GaugeLoad[]): Promise<void> {
    if (loads.length === 0) return;
    const prefixes = [...new Set(loads.map((g) => prefixOf(g.key)))];
    const sealed = await this.db
      .select({ prefix: gaugePolicies.prefix })
      .from(gaugePolicies)
      .where(and(inArray(gaugePolicies.prefix, prefixes), eq(gaugePolicies.sealed, true)));
    const skip = new Set(sealed.map((r) => r.prefix));
    const rows = loads.filter((g) => !skip.has(prefixOf(g.key)));
    if (rows.length === 0) return;
    await this.db
      .insert(gauges)
      .values(rows.map((g) => ({ key: g.key, prefix: prefixOf(g.key), total: g.total, remain: g.remain, version: g.version ?? 0 })))
      .onConflictDoNothing();
  }

  async read(keys: string[]): Promise<(LiveGauge | null)[]> {
    if (keys.length === 0) return [];
    const rows = await this.db.select().from(gauges).where(inArray(gauges.key, keys));
    const byKey = new Map(rows.map((r) => [r.key, { total: r.total, remain: r.remain, version: r.version }]));
    return keys.map((key) => byKey.get(key) ?? null);
  }

  async setPolicy(prefix: string, policy: Policy): Promise<boolean> {
    const rows = await this.db
      .insert(gaugePolicies)
      .values({ prefix, open: policy.open, version: policy.version, windows: policy.windows, limits: policy.limits })
      .onConflictDoUpdate({
        target: gaugePolicies.prefix,
        // The open flag only from a writer that is not older; a sealed policy stays as it is.
        set: {
          windows: policy.windows,
          limits: policy.limits,
          open: sql`case when ${gaugePolicies.version} > ${policy.version} then ${gaugePolicies.open} else ${policy.open} end`,
          version: sql`greatest(${gaugePolicies.version}, ${policy.version})`,
        },
        setWhere: eq(gaugePolicies.sealed, false),
      })
      .returning({ prefix: gaugePolicies.prefix });
    return rows.length > 0;
  }

  async setOpen(prefix: string, open: boolean, version: number): Promise<SetOpenResult> {
    const rows = await this.db
      .update(gaugePolicies)
      .set({ open, version })
      .where(and(eq(gaugePolicies.prefix, prefix), eq(gaugePolicies.sealed, false), lte(gaugePolicies.version, version)))
      .returning({ prefix: gaugePolicies.prefix });
    if (rows.length > 0) return 'ok';
    const [row] = await this.db.select({ sealed: gaugePolicies.sealed }).from(gaugePolicies).where(eq(gaugePolicies.prefix, prefix));
    return !row ? 'missing' : row.sealed ? 'sealed' : 'stale';
  }

  async getPolicy(prefix: string): Promise<Policy | null> {
    const [row] = await this.db.select().from(gaugePolicies).where(eq(gaugePolicies.prefix, prefix));
    return row ? { open: row.open, version: row.version, ...(row.sealed ? { sealed: true } : {}), windows: row.windows, limits: row.limits } : null;
  }

  /** The ledger is written in the take's own transaction: nothing waits to be drained. */
  async drain(): Promise<number> {
    return 0;
  }

  async drop(prefix: string, { archived = false } = {}): Promise<void> {
    // Deletes gauges in scan order, not key order, so it may deadlock with a take: retried.
    await atomically(this.db, async (tx) => {
      await tx.delete(gauges).where(like(gauges.key, startsWith(prefix)));
      // A sealed policy stays as a tombstone: a rebuild racing the archive cannot bring the scope back.
      await tx.delete(gaugePolicies).where(and(eq(gaugePolicies.prefix, prefix), eq(gaugePolicies.sealed, false)));
      // A take's record is its idempotency record: an archived (sealed) scope keeps them a week (as
      // Redis keeps them), so a take whose answer was lost before the archive still replays its
      // 201 when retried after it — given back since or not (a cancelled issue, a hold the archive
      // gave back: the ledger has the take). Records of archived scopes older than the week go
      // with any later drop.
      const [policy] = await tx.select({ sealed: gaugePolicies.sealed }).from(gaugePolicies).where(eq(gaugePolicies.prefix, prefix));
      if (!policy?.sealed && !archived) await tx.delete(gaugeOperations).where(eq(gaugeOperations.prefix, prefix));
      await tx.delete(gaugeOperations).where(
        and(
          lt(gaugeOperations.at, new Date(Date.now() - REPLAY_KEPT_MS)),
          inArray(gaugeOperations.prefix, tx.select({ prefix: gaugePolicies.prefix }).from(gaugePolicies).where(eq(gaugePolicies.sealed, true))),
        ),
      );
      await tx.delete(gaugeAdjustments).where(eq(gaugeAdjustments.prefix, prefix));
    });
  }

  async ping(): Promise<void> {
    await this.db.execute(sql`select 1`);
  }
}
