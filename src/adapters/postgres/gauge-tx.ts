/**
 * What one transaction of the Postgres gauge does: lock the policy and the gauges (in the one
 * global order, see `postgres-gauge.ts`), shift a gauge, give an operation back. Each function
 * runs inside a transaction its caller opened.
 */
import { and, eq, isNull, lte, sql } from 'drizzle-orm';
import type { Policy, RestoreCommand, RestoreResult } from '../../stock/gauge.js';
import { byKey, Refused, type Tx } from './gauge-sql.js';
import { ledgerRow } from './ledger-repository.js';
import { gaugeOperations, gaugePolicies, gauges, ledger } from './schema.js';

export type LockedPolicy = Policy & { sealed: boolean };

/** Subtracts `n` from a gauge unless that would take it below zero; `null` when refused or missing. */
export async function shift(tx: Tx, key: string, n: number): Promise<number | null> {
  const [row] = await tx
    .update(gauges)
    .set({ remain: sql`${gauges.remain} - ${n}` })
    .where(and(eq(gauges.key, key), sql`${gauges.remain} - ${n} >= 0`))
    .returning({ remain: gauges.remain });
  return row ? row.remain : null;
}

/** Are there holds of the scope whose time is up and which are not given back yet? */
export async function dueHolds(tx: Tx, prefix: string, now: number): Promise<boolean> {
  const [row] = await tx
    .select({ opId: gaugeOperations.opId })
    .from(gaugeOperations)
    .where(and(eq(gaugeOperations.prefix, prefix), lte(gaugeOperations.holdExpiresAt, new Date(now)), isNull(gaugeOperations.restoredAt), isNull(gaugeOperations.committedAt)))
    .limit(1);
  return row !== undefined;
}

export async function restoreIn(tx: Tx, cmd: RestoreCommand, { sealing = false } = {}): Promise<RestoreResult> {
  const [op] = await tx
    .select()
    .from(gaugeOperations)
    .where(and(eq(gaugeOperations.opId, cmd.opId), eq(gaugeOperations.prefix, cmd.prefix)))
    .for('update');
  if (!op || op.kind !== cmd.kind) return { ok: false, reason: 'not_found' } as const;
  if (cmd.mode === 'hold' && !op.holdExpiresAt) return { ok: false, reason: 'not_hold' } as const;
  const policy = sealing ? null : await lockPolicy(tx, cmd.prefix);
  // A sealed scope changes no more, and says so before anything else (an archived scope keeps
  // take records only to replay takes: a release or cancel there answers as on Redis, where
  // the record went with the archive).
  if (policy?.sealed) return { ok: false, reason: 'sealed' } as const;
  if (cmd.mode === 'hold' && op.committedAt) return { ok: false, reason: 'committed' } as const;
  if (!sealing && !policy) return { ok: false, reason: 'unavailable' } as const;
  const applied = op.items.flatMap((item, index) => (item.skipped ? [] : [{ ...item, index }]));
  const current = await lockGauges(tx, applied.map((a) => ({ key: a.key, lazyLimit: null })), cmd.prefix);
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
      if (await dueHolds(tx, cmd.prefix, cmd.now)) return { ok: false, reason: 'unavailable' } as const;
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
export async function lockPolicy(tx: Tx, prefix: string): Promise<LockedPolicy | null> {
  const [row] = await tx.select().from(gaugePolicies).where(eq(gaugePolicies.prefix, prefix)).for('share');
  return row ? { open: row.open, version: row.version, sealed: row.sealed, windows: row.windows, limits: row.limits } : null;
}

/**
 * Locks the gauges in key order, creating lazy ones at their limit first; returns their
 * remains (a missing, non-lazy gauge is absent from the map).
 */
export async function lockGauges(tx: Tx, wanted: { key: string; lazyLimit: number | null }[], prefix: string) {
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
