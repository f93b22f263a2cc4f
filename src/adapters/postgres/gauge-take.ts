/**
 * A take in one transaction of the Postgres gauge: claim the idempotency key, lock the policy
 * and the item gauges in the global order, check every item, then write them all (or roll
 * back). Each item is read by its place in `cmd.items`, the place the port's answer names.
 */
import { and, eq } from 'drizzle-orm';
import type { TakeCommand, TakeResult } from '../../stock/gauge.js';
import { Refused, type Tx } from './gauge-sql.js';
import { dueHolds, lockGauges, lockPolicy, shift } from './gauge-tx.js';
import { ledgerRow } from './ledger-repository.js';
import { gaugeOperations, ledger } from './schema.js';

/** Takes all of `cmd`'s items or none, inside `tx`. */
export async function takeIn(tx: Tx, cmd: TakeCommand): Promise<TakeResult> {
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

  const policy = await lockPolicy(tx, cmd.prefix);
  if (!policy) throw new Refused<TakeResult>({ ok: false, reason: 'unavailable' });
  if (policy.sealed) throw new Refused<TakeResult>({ ok: false, reason: 'sealed' });
  if (!policy.open) throw new Refused<TakeResult>({ ok: false, reason: 'closed' });
  const window = policy.windows[cmd.window];
  if (window?.start != null && cmd.now < window.start) throw new Refused<TakeResult>({ ok: false, reason: 'not_started' });
  if (window?.end != null && cmd.now >= window.end) throw new Refused<TakeResult>({ ok: false, reason: 'ended' });

  const active = cmd.items.map((item) => (item.limit in policy.limits ? item : null));
  const current = await lockGauges(
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
      if (await dueHolds(tx, cmd.prefix, cmd.now)) throw new Refused<TakeResult>({ ok: false, reason: 'unsettled' });
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
}
