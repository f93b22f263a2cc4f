/**
 * The durable ledger: every take and restore once, keyed by (operation id, action), so a
 * drain that runs twice — or two drains at once — records each event once.
 */
import { and, asc, desc, eq, gt, gte, inArray, isNotNull, lt, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { ActivityRow, SubjectOperation, LedgerRepository, SubjectNet } from '../../coupon/ports.js';
import type { LedgerEvent } from '../../stock/gauge.js';
import type { Db } from './db.js';
import { ledger, refusalCounts } from './schema.js';

/** Rows per insert statement: well under Postgres' 65,535 bind parameters (8 per row). */
const CHUNK = 500;

export const ledgerRow = (e: LedgerEvent) => ({
  opId: e.opId,
  action: e.action,
  scope: e.scope,
  kind: e.kind,
  subject: e.subject,
  ref: e.ref,
  amount: e.amount,
  value: e.value ?? null,
  at: new Date(e.at),
});

// sum() is a bigint: a string from node-postgres, a number from PGlite.
const netAmount = sql`coalesce(sum(case when ${ledger.action} = 'take' then ${ledger.amount} else -${ledger.amount} end), 0)`.mapWith(Number);

export class PostgresLedgerRepository implements LedgerRepository {
  private readonly db: Db;

  constructor({ db }: { db: Db }) {
    this.db = db;
  }

  async append(events: LedgerEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += CHUNK) {
      await this.db
        .insert(ledger)
        .values(events.slice(i, i + CHUNK).map(ledgerRow))
        .onConflictDoNothing({ target: [ledger.opId, ledger.action] });
    }
  }

  async net(scope: string): Promise<Record<string, number>> {
    const rows = await this.db
      .select({ kind: ledger.kind, net: netAmount })
      .from(ledger)
      .where(eq(ledger.scope, scope))
      .groupBy(ledger.kind);
    return Object.fromEntries(rows.map((r) => [r.kind, r.net]));
  }

  async netBySubject(scope: string, after: string | null, limit: number): Promise<SubjectNet[]> {
    // One page of subjects (ordered), then their nets: paging stays stable however many rows each has.
    const subjects = await this.db
      .selectDistinct({ subject: ledger.subject })
      .from(ledger)
      .where(after === null ? eq(ledger.scope, scope) : and(eq(ledger.scope, scope), gt(ledger.subject, after)))
      .orderBy(asc(ledger.subject))
      .limit(limit);
    if (subjects.length === 0) return [];
    const rows = await this.db
      .select({ subject: ledger.subject, kind: ledger.kind, net: netAmount })
      .from(ledger)
      .where(and(eq(ledger.scope, scope), inArray(ledger.subject, subjects.map((s) => s.subject))))
      .groupBy(ledger.subject, ledger.kind);
    const bySubject = new Map<string, Record<string, number>>(subjects.map((s) => [s.subject, {}]));
    for (const row of rows) {
      const nets = bySubject.get(row.subject);
      if (nets) nets[row.kind] = row.net;
    }
    return [...bySubject].map(([subject, net]) => ({ subject, net }));
  }

  async netValue(scope: string): Promise<number> {
    const [row] = await this.db
      .select({ net: sql`coalesce(sum(case when ${ledger.action} = 'take' then ${ledger.value} else -${ledger.value} end), 0)`.mapWith(Number) })
      .from(ledger)
      .where(and(eq(ledger.scope, scope), isNotNull(ledger.value)));
    return row?.net ?? 0;
  }

  async netTakenIn(scope: string, kind: string, from: Date, to: Date): Promise<number> {
    // Takes made in the window, less those of them restored since (whenever the restore was).
    const restore = alias(ledger, 'restore');
    const [row] = await this.db
      .select({ net: sql`coalesce(sum(${ledger.amount}) - sum(coalesce(${restore.amount}, 0)), 0)`.mapWith(Number) })
      .from(ledger)
      .leftJoin(restore, and(eq(restore.opId, ledger.opId), eq(restore.action, 'restore')))
      .where(and(eq(ledger.scope, scope), eq(ledger.kind, kind), eq(ledger.action, 'take'), gte(ledger.at, from), lt(ledger.at, to)));
    return row?.net ?? 0;
  }

  async activity(scope: string, from: Date, to: Date): Promise<ActivityRow[]> {
    // One pass over the scope's ledger rows up to `to`, grouped by minute: the minutes before
    // `from` only feed the running net, so `net_after` counts all history. Refusals join by
    // minute and kind (a minute may have refusals and no take, or the reverse). Numbers as
    // float8 and the minute as epoch ms: every driver (node-postgres, PGlite, Neon) reads those
    // as JS numbers.
    const result = await this.db.execute(sql`
      with moves as (
        select date_trunc('minute', at) as minute, kind,
               coalesce(sum(amount) filter (where action = 'take'), 0) as takes,
               coalesce(sum(amount) filter (where action = 'restore'), 0) as restores
        from ${ledger}
        where scope = ${scope} and at < ${to}
        group by 1, 2
      ), refused as (
        select minute, kind, count as refusals
        from ${refusalCounts}
        where coupon_id = ${scope} and minute >= ${from} and minute < ${to}
      ), minutes as (
        select coalesce(m.minute, r.minute) as minute, coalesce(m.kind, r.kind) as kind,
               coalesce(m.takes, 0) as takes, coalesce(m.restores, 0) as restores, coalesce(r.refusals, 0) as refusals
        from moves m full join refused r on r.minute = m.minute and r.kind = m.kind
      ), running as (
        select *, sum(takes - restores) over (partition by kind order by minute) as net_after
        from minutes
      )
      select (extract(epoch from minute) * 1000)::float8 as minute, kind, takes::float8 as takes, restores::float8 as restores,
             refusals::float8 as refusals, net_after::float8 as net_after
      from running
      where minute >= ${from}
      order by minute, kind`);
    // Every driver here (node-postgres, PGlite, Neon's Pool) answers a raw query with `rows`.
    const { rows } = result as unknown as { rows: { minute: number; kind: string; takes: number; restores: number; refusals: number; net_after: number }[] };
    return rows.map((r) => ({
      minute: new Date(Number(r.minute)),
      kind: r.kind,
      takes: Number(r.takes),
      restores: Number(r.restores),
      refusals: Number(r.refusals),
      netAfter: Number(r.net_after),
    }));
  }

  async operation(scope: string, opId: string): Promise<{ kind: string; restored: boolean } | null> {
    const rows = await this.db
      .select({ kind: ledger.kind, action: ledger.action })
      .from(ledger)
      .where(and(eq(ledger.scope, scope), eq(ledger.opId, opId)));
    const take = rows.find((r) => r.action === 'take');
    return take ? { kind: take.kind, restored: rows.some((r) => r.action === 'restore') } : null;
  }

  async bySubject(subject: string, limit: number): Promise<SubjectOperation[]> {
    const restore = alias(ledger, 'restore');
    const rows = await this.db
      .select({
        opId: ledger.opId,
        couponId: ledger.scope,
        kind: ledger.kind,
        ref: ledger.ref,
        at: ledger.at,
        cancelledAt: restore.at,
      })
      .from(ledger)
      .leftJoin(restore, and(eq(restore.opId, ledger.opId), eq(restore.action, 'restore')))
      .where(and(eq(ledger.subject, subject), eq(ledger.action, 'take')))
      .orderBy(desc(ledger.at), desc(ledger.opId))
      .limit(limit);
    return rows;
  }
}
