/**
 * A batch of takes of one scope in one transaction of the Postgres gauge (group commit, see
 * `take-batcher.ts`). The batch claims every idempotency key in one insert, locks the policy and
 * then every gauge the batch touches in key order (the one global order of `gauge-tx.ts`), and
 * decides take by take, in arrival order, on the locked values — exactly what the takes would
 * have decided one transaction each, one after another. Only then does it write, in bulk: the
 * gauges (still a conditional `remain - n >= 0` per row), the operation records of the
 * successes, their ledger rows; the claims of refused takes are deleted, so a refusal leaves
 * nothing behind. No process can decide from a stale value: every value decided on is read
 * under a row lock held until the commit, and another process's batch waits on those locks.
 *
 * A statement count per batch that does not grow with the batch is what makes it fast: about
 * eight statements for fifty takes instead of nine per take.
 */
import { and, asc, eq, inArray, isNotNull, isNull, min, sql } from 'drizzle-orm';
import type { TakeCommand, TakeResult } from '../../stock/gauge.js';
import { byKey, type Tx } from './gauge-sql.js';
import { lockPolicy, type LockedPolicy } from './gauge-tx.js';
import { ledgerRow } from './ledger-repository.js';
import { gaugeOperations, gauges, ledger } from './schema.js';

/** A take's answer, or the error that take alone failed with (its operation id was already used). */
export type BatchAnswer = TakeResult | Error;

type Refusal = Extract<TakeResult, { ok: false }>;
type AppliedItem = { key: string; n: number; skipped: boolean; lazy: boolean };
type Success = { cmd: TakeCommand; items: AppliedItem[]; remains: (number | null)[] };

/**
 * Decides and writes the takes `cmds` (one scope, distinct idempotency keys, arrival order) in
 * `tx`; one answer per take, in the same order. Throws only when the whole batch failed.
 */
export async function takeBatch(tx: Tx, prefix: string, cmds: TakeCommand[]): Promise<BatchAnswer[]> {
  const answers: (BatchAnswer | undefined)[] = cmds.map(() => undefined);
  // Claim every key first, in key order (two batches claiming the same keys wait, never
  // deadlock): a key another transaction claimed and has not committed waits here until it
  // commits (then replays) or rolls back (then runs).
  const claims = cmds.map((cmd) => claimRow(cmd)).sort((a, b) => (a.idempotencyKey < b.idempotencyKey ? -1 : a.idempotencyKey > b.idempotencyKey ? 1 : 0));
  const claimedRows = await tx.insert(gaugeOperations).values(claims).onConflictDoNothing().returning({ opId: gaugeOperations.opId });
  const claimed = new Set(claimedRows.map((r) => r.opId));
  const unclaimed = cmds.flatMap((cmd, i) => (claimed.has(cmd.opId) ? [] : [i]));
  if (unclaimed.length > 0) await replays(tx, prefix, cmds, unclaimed, answers);
  const deciding = cmds.flatMap((cmd, i) => (claimed.has(cmd.opId) ? [i] : []));
  if (deciding.length === 0) return answers as BatchAnswer[];

  const policy = await lockPolicy(tx, prefix);
  const open = deciding.filter((i) => {
    const refusal = policyRefusal(policy, cmds[i] as TakeCommand);
    if (refusal) answers[i] = refusal;
    return !refusal;
  });
  const { remains, created } = open.length > 0 && policy ? await lockGauges(tx, prefix, open.map((i) => cmds[i] as TakeCommand), policy) : { remains: new Map<string, number>(), created: [] };

  // Every decision on locked values, in arrival order, each seeing the ones before it.
  const successes: Success[] = [];
  const moved = new Map<string, number>();
  let holdsDueFrom: number | null | undefined;
  const dueAt = async (now: number) => {
    holdsDueFrom ??= await earliestStandingHold(tx, prefix);
    return holdsDueFrom !== null && holdsDueFrom <= now;
  };
  for (const i of open) {
    const cmd = cmds[i] as TakeCommand;
    const decided = decide(cmd, policy as LockedPolicy, remains);
    if ('refusal' in decided) {
      const { refusal } = decided;
      answers[i] = refusal.reason === 'insufficient' && decided.checked && (await dueAt(cmd.now)) ? { ok: false, reason: 'unsettled' } : refusal;
      continue;
    }
    for (const [key, value] of decided.after) {
      moved.set(key, (moved.get(key) ?? 0) + ((remains.get(key) ?? 0) - value));
      remains.set(key, value);
    }
    successes.push({ cmd, items: decided.items, remains: decided.remains });
    answers[i] = { ok: true, opId: cmd.opId, remains: decided.remains, replayed: false, holdExpiresAt: cmd.hold?.expiresAt ?? null };
  }

  // A lazy gauge only refused takes wanted was never made (their transactions would have rolled it back).
  const used = new Set(successes.flatMap((s) => s.items.flatMap((item) => (item.skipped ? [] : [item.key]))));
  const unused = created.filter((key) => !used.has(key));
  if (unused.length > 0) await tx.delete(gauges).where(inArray(gauges.key, unused));
  await write(tx, cmds, deciding, successes, moved);
  return answers as BatchAnswer[];
}

/** The operation row that claims a take's idempotency key (its items and remains come with the decision). */
function claimRow(cmd: TakeCommand) {
  return {
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
  };
}

/** Answers the takes whose key was already claimed: the first take's answer, a conflict, or `unsettled`. */
async function replays(tx: Tx, prefix: string, cmds: TakeCommand[], unclaimed: number[], answers: (BatchAnswer | undefined)[]) {
  const rows = await tx
    .select({
      opId: gaugeOperations.opId,
      idempotencyKey: gaugeOperations.idempotencyKey,
      fingerprint: gaugeOperations.fingerprint,
      remains: gaugeOperations.remains,
      hold: gaugeOperations.holdExpiresAt,
      restoredAt: gaugeOperations.restoredAt,
      committedAt: gaugeOperations.committedAt,
    })
    .from(gaugeOperations)
    .where(and(eq(gaugeOperations.prefix, prefix), inArray(gaugeOperations.idempotencyKey, unclaimed.map((i) => (cmds[i] as TakeCommand).idempotencyKey))));
  const byIdempotencyKey = new Map(rows.map((r) => [r.idempotencyKey, r]));
  for (const i of unclaimed) {
    const cmd = cmds[i] as TakeCommand;
    const first = byIdempotencyKey.get(cmd.idempotencyKey);
    if (!first) answers[i] = new Error(`operation id ${cmd.opId} is already taken`);
    else if (first.fingerprint !== cmd.fingerprint) answers[i] = { ok: false, reason: 'conflict' };
    // A hold whose time is up but which could not be given back yet is no hold to hand out again.
    else if (first.hold && !first.restoredAt && !first.committedAt && first.hold.getTime() <= cmd.now) answers[i] = { ok: false, reason: 'unsettled' };
    else answers[i] = { ok: true, opId: first.opId, remains: first.remains, replayed: true, holdExpiresAt: first.hold ? first.hold.getTime() : null };
  }
}

/** What the scope's policy alone refuses a take for (missing, sealed, paused, outside its window). */
function policyRefusal(policy: LockedPolicy | null, cmd: TakeCommand): Refusal | null {
  if (!policy) return { ok: false, reason: 'unavailable' };
  if (policy.sealed) return { ok: false, reason: 'sealed' };
  if (!policy.open) return { ok: false, reason: 'closed' };
  const window = policy.windows[cmd.window];
  if (window?.start != null && cmd.now < window.start) return { ok: false, reason: 'not_started' };
  if (window?.end != null && cmd.now >= window.end) return { ok: false, reason: 'ended' };
  return null;
}

/**
 * Creates the lazy gauges the takes need at their limit, then locks every gauge they touch, in
 * key order; returns the remains (a missing gauge is absent) and the lazy gauges created. A key is lazy or not by its limit,
 * the same in every take, so one insert for all of them decides as the takes one by one would.
 */
async function lockGauges(tx: Tx, prefix: string, takes: TakeCommand[], policy: LockedPolicy): Promise<{ remains: Map<string, number>; created: string[] }> {
  const lazy = new Map<string, number>();
  const keys = new Set<string>();
  for (const cmd of takes) {
    for (const item of cmd.items) {
      if (!(item.limit in policy.limits)) continue;
      keys.add(item.key);
      if (item.lazy && !lazy.has(item.key)) lazy.set(item.key, policy.limits[item.limit] ?? 0);
    }
  }
  let created: string[] = [];
  if (lazy.size > 0) {
    const rows = [...lazy].map(([key, limit]) => ({ key, prefix, total: limit, remain: limit })).sort(byKey);
    created = (await tx.insert(gauges).values(rows).onConflictDoNothing().returning({ key: gauges.key })).map((r) => r.key);
  }
  if (keys.size === 0) return { remains: new Map(), created };
  const rows = await tx
    .select({ key: gauges.key, remain: gauges.remain })
    .from(gauges)
    .where(inArray(gauges.key, [...keys]))
    .orderBy(asc(gauges.key))
    .for('update');
  return { remains: new Map(rows.map((r) => [r.key, r.remain])), created };
}

type Decision =
  | { refusal: Refusal; checked: boolean }
  | { after: Map<string, number>; items: AppliedItem[]; remains: (number | null)[] };

/**
 * One take on the current remains, as `gauge-take.ts` decides it in its own transaction: every
 * item checked before any is shifted, then each shift must keep its gauge at zero or more.
 * `checked`: the refusal is a shortfall, which holds whose time is up could turn into `unsettled`.
 */
function decide(cmd: TakeCommand, policy: LockedPolicy, current: Map<string, number>): Decision {
  const active = cmd.items.map((item) => (item.limit in policy.limits ? item : null));
  for (const [index, item] of active.entries()) {
    if (!item) continue;
    if (item.unstated) return { refusal: { ok: false, reason: 'unstated', index }, checked: false };
    const remain = current.get(item.key);
    if (remain === undefined) return { refusal: { ok: false, reason: 'unavailable' }, checked: false };
    if (item.n > 0 && remain < item.n) return { refusal: { ok: false, reason: 'insufficient', index }, checked: true };
  }
  const after = new Map<string, number>();
  const remains: (number | null)[] = [];
  for (const [index, item] of active.entries()) {
    if (!item) {
      remains.push(null);
      continue;
    }
    const remain = (after.get(item.key) ?? current.get(item.key) ?? 0) - item.n;
    if (remain < 0) return { refusal: { ok: false, reason: 'insufficient', index }, checked: false };
    after.set(item.key, remain);
    remains.push(remain);
  }
  const items = cmd.items.map((item, i) => ({ key: item.key, n: item.n, skipped: active[i] === null, lazy: item.lazy }));
  return { after, items, remains };
}

/** When the scope's earliest standing hold is up (ms), `null` without one: a shortfall then may be false. */
async function earliestStandingHold(tx: Tx, prefix: string): Promise<number | null> {
  const [row] = await tx
    .select({ at: min(gaugeOperations.holdExpiresAt) })
    .from(gaugeOperations)
    .where(and(eq(gaugeOperations.prefix, prefix), isNotNull(gaugeOperations.holdExpiresAt), isNull(gaugeOperations.restoredAt), isNull(gaugeOperations.committedAt)));
  return row?.at ? new Date(row.at).getTime() : null;
}

/** Writes what the batch decided: the gauges, the successes' records and ledger rows; the refused claims go. */
async function write(tx: Tx, cmds: TakeCommand[], deciding: number[], successes: Success[], moved: Map<string, number>) {
  const won = new Set(successes.map((s) => s.cmd.opId));
  const refused = deciding.map((i) => (cmds[i] as TakeCommand).opId).filter((opId) => !won.has(opId));
  if (refused.length > 0) await tx.delete(gaugeOperations).where(inArray(gaugeOperations.opId, refused));
  if (successes.length === 0) return;
  const shifts = [...moved].filter(([, n]) => n !== 0).map(([key, n]) => ({ key, n })).sort(byKey);
  if (shifts.length > 0) {
    // Conditional still: a row that would go below zero is not written, and the batch fails.
    const result = await tx.execute(sql`
      update ${gauges} as g set remain = g.remain - v.n
      from jsonb_to_recordset(${JSON.stringify(shifts)}::jsonb) as v(key text, n bigint)
      where g.key = v.key and g.remain - v.n >= 0
      returning g.key`);
    const { rows } = result as unknown as { rows: unknown[] };
    if (rows.length !== shifts.length) throw new Error(`a batch's gauge shift was refused (${rows.length} of ${shifts.length} written)`);
  }
  const records = successes.map((s) => ({ op_id: s.cmd.opId, items: s.items, remains: s.remains }));
  await tx.execute(sql`
    update ${gaugeOperations} as o set items = v.items, remains = v.remains
    from jsonb_to_recordset(${JSON.stringify(records)}::jsonb) as v(op_id text, items jsonb, remains jsonb)
    where o.op_id = v.op_id`);
  await tx.insert(ledger).values(successes.map((s) => ledgerRow({ ...s.cmd.ledger, opId: s.cmd.opId, action: 'take', at: s.cmd.now })));
}
