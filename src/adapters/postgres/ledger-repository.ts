/**
 * The durable ledger: every take and restore once, keyed by (operation id, action), so a
 * drain that runs twice — or two drains at once — records each event once.
 */
import { and, asc, desc, eq, gt, gte, inArray, isNotNull, lt, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { HoldingEntry, LedgerRepository, SubjectNet } from '../../coupon/ports.js';
import type { LedgerEvent } from '../../stock/gauge.js';
import type { Db } from './db.js';
import { ledger } from './schema.js';

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

  async bySubject(subject: string, limit: number): Promise<HoldingEntry[]> {
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
