/**
 * The gauge in Postgres: the embedded default (PGlite) and the benchmark baseline. Each
 * operation is one transaction. Rows are locked in one global order (the operation's own row,
 * the policy, then gauges sorted by key), so concurrent takes queue instead of deadlocking,
 * and every check runs on locked, current values before anything is written; a refusal rolls
 * the whole transaction back. Every write is still a conditional `UPDATE … WHERE remain - n >= 0`,
 * so "never below zero" holds in the statement itself (and in the table's check constraint),
 * not only through the locks. On PGlite (one connection) drizzle's transactions queue on
 * PGlite's own mutex, so concurrent calls simply run one after another.
 */
import { and, asc, eq, gt, inArray, isNotNull, isNull, like, lt, lte, sql } from 'drizzle-orm';
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
import { atomically, byKey, prefixOf, Refused, startsWith, type Tx } from './gauge-sql.js';
import { ledgerRow } from './ledger-repository.js';
import { gaugeAdjustments, gaugeOperations, gaugePolicies, gauges, ledger } from './schema.js';

/** How long an archived scope's take records stay to answer retried takes (Redis: the idempotency TTL). */
const REPLAY_KEPT_MS = 7 * 24 * 3600 * 1000;

/** Holds given back before a take decides (each in its own transaction); more left due makes a refusal `unsettled`. */
const HOLDS_PER_TAKE = 1000;

type LockedPolicy = Policy & { sealed: boolean };

/** Subtracts `n` from a gauge unless that would take it below zero; `null` when refused or missing. */
async function shift(tx: Tx, key: string, n: number): Promise<number | null> {
  const [row] = await tx
    .update(gauges)
    .set({ remain: sql`${gauges.remain} - ${n}` })
    .where(and(eq(gauges.key, key), sql`${gauges.remain} - ${n} >= 0`))
    .returning({ remain: gauges.remain });
  return row ? row.remain : null;
}

export class PostgresGauge implements GaugePort {
  readonly name = 'postgres' as const;
  private readonly db: Db;

  constructor({ db }: { db: Db }) {
    this.db = db;
  }

  async take(cmd: TakeCommand): Promise<TakeResult> {
    // Holds whose time is up give their stock back first (each in its own transaction, before
    // this one locks anything), so this take can have it.
    await this.expireDue(cmd.prefix, cmd.now, HOLDS_PER_TAKE);
    return atomically(this.db, async (tx) => {
      // Claim the idempotency key first: a concurrent take with the same key waits here until
      // this one commits (then replays it) or rolls back (then runs itself).
      const claimed = await tx
        .insert(gaugeOperations)
        .values({
          opId: cmd.opId,
          prefix: cmd.prefix,
          kind: cmd.ledger.kind,
          idempotencyKey: cmd.idempotencyKey,
          fingerprint: cmd.fingerprint,
          items: [],
          remains: [],
          scope: cmd.ledger.scope,
          subject: cmd.ledger.subject,
          ref: cmd.ledger.ref,
          amount: cmd.ledger.amount,
          value: cmd.ledger.value ?? null,
          at: new Date(cmd.now),
          holdExpiresAt: cmd.hold ? new Date(cmd.hold.expiresAt) : null,
        })
        .onConflictDoNothing()
        .returning({ opId: gaugeOperations.opId });
      if (claimed.length === 0) {
        const [first] = await tx
          .select({
            opId: gaugeOperations.opId,
            fingerprint: gaugeOperations.fingerprint,
            remains: gaugeOperations.remains,
            hold: gaugeOperations.holdExpiresAt,
            restoredAt: gaugeOperations.restoredAt,
            committedAt: gaugeOperations.committedAt,
          })
          .from(gaugeOperations)
          .where(and(eq(gaugeOperations.prefix, cmd.prefix), eq(gaugeOperations.idempotencyKey, cmd.idempotencyKey)));
        if (!first) throw new Error(`operation id ${cmd.opId} is already taken`);
        if (first.fingerprint !== cmd.fingerprint) return { ok: false, reason: 'conflict' } as const;
        // A hold whose time is up but which could not be given back yet is no hold to hand out again.
        if (first.hold && !first.restoredAt && !first.committedAt && first.hold.getTime() <= cmd.now) return { ok: false, reason: 'unsettled' } as const;
        return { ok: true, opId: first.opId, remains: first.remains, replayed: true, holdExpiresAt: first.hold ? first.hold.getTime() : null } as const;
      }

      const policy = await this.lockPolicy(tx, cmd.prefix);
      if (!policy) throw new Refused<TakeResult>({ ok: false, reason: 'unavailable' });
      if (policy.sealed) throw new Refused<TakeResult>({ ok: false, reason: 'sealed' });
      if (!policy.open) throw new Refused<TakeResult>({ ok: false, reason: 'closed' });
      const window = policy.windows[cmd.window];
      if (window?.start != null && cmd.now < window.start) throw new Refused<TakeResult>({ ok: false, reason: 'not_started' });
      if (window?.end != null && cmd.now >= window.end) throw new Refused<TakeResult>({ ok: false, reason: 'ended' });

      const active = cmd.items.map((item) => (item.limit in policy.limits ? item : null));
      const current = await this.lockGauges(
        tx,
        active.flatMap((item) => (item ? [{ key: item.key, lazyLimit: item.lazy ? (policy.limits[item.limit] ?? 0) : null }] : [])),
        cmd.prefix,
      );
      // Every check on locked values, in item order, before any write.
      for (const [index, item] of active.entries()) {
        if (!item) continue;
        if (item.unstated) throw new Refused<TakeResult>({ ok: false, reason: 'unstated', index });
        const remain = current.get(item.key);
        if (remain === undefined) throw new Refused<TakeResult>({ ok: false, reason: 'unavailable' });
        if (item.n > 0 && remain < item.n) {
          // Refusing while expired holds still wait to be given back could be a false sell-out.
          if (await this.dueHolds(tx, cmd.prefix, cmd.now)) throw new Refused<TakeResult>({ ok: false, reason: 'unsettled' });
          throw new Refused<TakeResult>({ ok: false, reason: 'insufficient', index });
        }
      }
      const remains: (number | null)[] = [];
      for (const [index, item] of active.entries()) {
        if (!item) {
          remains.push(null);
          continue;
        }
        const remain = await shift(tx, item.key, item.n);
        if (remain === null) throw new Refused<TakeResult>({ ok: false, reason: 'insufficient', index });
        remains.push(remain);
      }
      await tx
        .update(gaugeOperations)
        .set({ items: cmd.items.map((item, i) => ({ key: item.key, n: item.n, skipped: active[i] === null, lazy: item.lazy })), remains })
        .where(eq(gaugeOperations.opId, cmd.opId));
      await tx.insert(ledger).values(ledgerRow({ ...cmd.ledger, opId: cmd.opId, action: 'take', at: cmd.now }));
      return { ok: true, opId: cmd.opId, remains, replayed: false, holdExpiresAt: cmd.hold?.expiresAt ?? null } as const;
    });
  }

  async restore(cmd: RestoreCommand): Promise<RestoreResult> {
    // Holds whose time is up give back first: a cancel refused because a dead hold still holds
    // the user's coupon would be a false refusal.
    await this.expireDue(cmd.prefix, cmd.now, HOLDS_PER_TAKE);
    return atomically(this.db, (tx) => this.restoreIn(tx, cmd));
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
      const policy = await this.lockPolicy(tx, cmd.prefix);
      // Sealed first: an archived scope keeps its take records only to replay takes (see drop),
      // so a commit there answers as on Redis, where the record went with the archive.
      if (policy?.sealed) return { ok: false, reason: 'sealed' };
      if (op.restoredAt) return { ok: false, reason: 'expired' };
      if (op.committedAt) return { ok: true, committed: false, subject: op.subject, ref: op.ref };
      if (!policy) return { ok: false, reason: 'unavailable' };
      if (op.holdExpiresAt.getTime() <= cmd.now) {
        await this.restoreIn(tx, { prefix: cmd.prefix, opId: cmd.opId, kind: op.kind, now: cmd.now });
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

  /** Are there holds of the scope whose time is up and which are not given back yet? */
  private async dueHolds(tx: Tx, prefix: string, now: number): Promise<boolean> {
    const [row] = await tx
      .select({ opId: gaugeOperations.opId })
      .from(gaugeOperations)
      .where(and(eq(gaugeOperations.prefix, prefix), lte(gaugeOperations.holdExpiresAt, new Date(now)), isNull(gaugeOperations.restoredAt), isNull(gaugeOperations.committedAt)))
      .limit(1);
    return row !== undefined;
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
          const result = await this.restoreIn(tx, { prefix, opId: op.opId, kind: op.kind, now, mode: 'hold' }, { sealing: true });
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
      const result = await atomically(this.db, (tx) => this.restoreIn(tx, { prefix, opId: op.opId, kind: op.kind, now, mode: 'hold' }));
      if (result.ok && result.restored) given += 1;
    }
    return given;
  }

  private async restoreIn(tx: Tx, cmd: RestoreCommand, { sealing = false } = {}): Promise<RestoreResult> {
    const [op] = await tx
      .select()
      .from(gaugeOperations)
      .where(and(eq(gaugeOperations.opId, cmd.opId), eq(gaugeOperations.prefix, cmd.prefix)))
      .for('update');
    if (!op || op.kind !== cmd.kind) return { ok: false, reason: 'not_found' } as const;
    if (cmd.mode === 'hold' && !op.holdExpiresAt) return { ok: false, reason: 'not_hold' } as const;
    const policy = sealing ? null : await this.lockPolicy(tx, cmd.prefix);
    // A sealed scope changes no more, and says so before anything else (an archived scope keeps
    // take records only to replay takes: a release or cancel there answers as on Redis, where
    // the record went with the archive).
    if (policy?.sealed) return { ok: false, reason: 'sealed' } as const;
    if (cmd.mode === 'hold' && op.committedAt) return { ok: false, reason: 'committed' } as const;
    if (!sealing && !policy) return { ok: false, reason: 'unavailable' } as const;
    const applied = op.items.flatMap((item, index) => (item.skipped ? [] : [{ ...item, index }]));
    const current = await this.lockGauges(tx, applied.map((a) => ({ key: a.key, lazyLimit: null })), cmd.prefix);
    const record = (restoredAt: Date | null) => ({
      opId: op.opId,
      kind: op.kind,
      scope: op.scope,
      subject: op.subject,
      ref: op.ref,
      amount: op.amount,
      at: op.at.getTime(),
      restoredAt: restoredAt ? restoredAt.getTime() : null,
    });
    const remainsFrom = (values: Map<string, number>) => op.items.map((item) => (item.skipped ? null : (values.get(item.key) ?? null)));
    // Already given back: nothing to do, so a gauge gone since then reads `null` instead of
    // failing the retry (the Redis gauge answers the same).
    if (op.restoredAt) return { ok: true, restored: false, remains: remainsFrom(current), op: record(op.restoredAt) } as const;
    if (applied.some((a) => !a.lazy && !current.has(a.key))) return { ok: false, reason: 'unavailable' } as const;
    // A lazy gauge that is gone has nothing to give back to (see GaugeItem.lazy).
    const present = applied.filter((a) => current.has(a.key));

    for (const a of present) {
      // Giving back a give (n < 0) takes it again: it must still be there. A refusal while
      // expired holds still wait to be given back is not decided (they may hold it).
      if (a.n < 0 && (current.get(a.key) ?? 0) < -a.n) {
        if (await this.dueHolds(tx, cmd.prefix, cmd.now)) return { ok: false, reason: 'unavailable' } as const;
        return { ok: false, reason: 'insufficient', index: a.index } as const;
      }
    }
    const after = new Map<string, number>();
    for (const a of present) {
      const remain = await shift(tx, a.key, -a.n);
      if (remain === null) throw new Refused<RestoreResult>({ ok: false, reason: 'insufficient', index: a.index });
      after.set(a.key, remain);
    }
    const restoredAt = new Date(cmd.now);
    // A hold given back frees its owner's key: the same order may hold again. Not when sealing a
    // hold that still stood: no one holds again on an archived scope, and a hold whose answer was
    // lost before the archive replays its 201 when retried after it (the ledger has it), never
    // NOT_ACTIVE. (One whose time was up is answered as if a sweep had given it back.)
    const stood = sealing && op.holdExpiresAt !== null && op.holdExpiresAt.getTime() > cmd.now;
    const key = op.holdExpiresAt && !stood ? { idempotencyKey: `${op.idempotencyKey}#${op.opId}` } : {};
    await tx.update(gaugeOperations).set({ restoredAt, ...key }).where(eq(gaugeOperations.opId, op.opId));
    await tx.insert(ledger).values(
      ledgerRow({ opId: op.opId, action: 'restore', scope: op.scope, kind: op.kind, subject: op.subject, ref: op.ref, amount: op.amount, value: op.value, at: cmd.now }),
    );
    return { ok: true, restored: true, remains: remainsFrom(after), op: record(restoredAt) } as const;
  }

  /** The scope's policy, share-locked so a pause or a seal waits for takes in flight and then wins. */
  private async lockPolicy(tx: Tx, prefix: string): Promise<LockedPolicy | null> {
    const [row] = await tx.select().from(gaugePolicies).where(eq(gaugePolicies.prefix, prefix)).for('share');
    return row ? { open: row.open, version: row.version, sealed: row.sealed, windows: row.windows, limits: row.limits } : null;
  }

  /**
   * Locks the gauges in key order, creating lazy ones at their limit first; returns their
   * remains (a missing, non-lazy gauge is absent from the map).
   */
  private async lockGauges(tx: Tx, wanted: { key: string; lazyLimit: number | null }[], prefix: string) {
    const remains = new Map<string, number>();
    for (const { key, lazyLimit } of [...wanted].sort(byKey)) {
      if (lazyLimit !== null) {
        await tx.insert(gauges).values({ key, prefix, total: lazyLimit, remain: lazyLimit }).onConflictDoNothing();
      }
      const [row] = await tx.select({ remain: gauges.remain }).from(gauges).where(eq(gauges.key, key)).for('update');
      if (row) remains.set(key, row.remain);
    }
    return remains;
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
      const policy = await this.lockPolicy(tx, cmd.prefix);
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

  async drop(prefix: string): Promise<void> {
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
      if (!policy?.sealed) await tx.delete(gaugeOperations).where(eq(gaugeOperations.prefix, prefix));
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
