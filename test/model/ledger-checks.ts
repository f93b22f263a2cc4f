/**
 * The books against the answers, from the durable ledger of one coupon: op by op (every 2xx is
 * in it, nothing is in it that no answer allows) and by limit (per stock, user, day, budget).
 */
import { dayOf, mustBeRestored, type Book, type Doubt, type StockName } from './books.js';
import type { Run } from './state.js';
import type { LedgerRow } from './world.js';

/** A take in the ledger and its restore, if any. */
export interface LedgerOp {
  take: LedgerRow;
  restore: LedgerRow | undefined;
}

/** Op by op: every answer is in the books, and the books hold nothing no answer allows. */
export function checkOps(run: Run, book: Book, ops: Map<string, LedgerOp>): void {
  const name = `coupon ${book.index}`;
  const now = run.now;
  for (const t of book.takes.values()) {
    const op = ops.get(t.id);
    const what = `${t.hold ? `hold (${t.hold.owner})` : t.kind} ${t.id} of ${t.user}`;
    if (!op) {
      run.violate('lost-ack', `${name}: ${what} was answered 201 but is not in the ledger`);
      continue;
    }
    const must = mustBeRestored(t, now);
    const may = t.restored === 'maybe' || (t.hold !== null && t.committed === 'maybe' && now >= t.hold.expiresAt);
    // A hold whose record was deleted cannot run out (a limit the guarantees page states).
    if (must && !op.restore && !(t.recordLost && t.restored !== 'yes')) {
      const why = t.restored === 'yes' ? 'its cancel/release was answered 200' : `it ran out at ${new Date(t.hold?.expiresAt ?? 0).toISOString()} uncommitted`;
      run.violate(t.restored === 'yes' ? 'lost-ack' : 'hold-leak', `${name}: ${what}: ${why}, but the ledger has no restore of it`);
    }
    if (op.restore && !must && !may) {
      run.violate('phantom-restore', `${name}: ${what} was given back in the ledger, but no answer gave it back (${t.hold ? `committed ${t.committed}` : 'never cancelled'})`);
    }
  }
  const used = new Set<Doubt>();
  for (const [opId, op] of ops) {
    if (book.takes.has(opId)) continue;
    const row = op.take;
    const doubt = book.doubts.find((d) => !used.has(d) && d.kind === row.kind && d.user === row.subject && (d.ref === null || d.ref === row.ref) && d.end === 'unknown')
      ?? book.doubts.find((d) => !used.has(d) && d.kind === row.kind && d.user === row.subject && (d.ref === null || d.ref === row.ref));
    const what = `${name}: the ledger has a ${row.kind} ${opId} by ${row.subject}${row.ref ? ` (${row.ref})` : ''} that no 201 acknowledged`;
    if (!doubt) {
      run.violate('phantom-take', `${what}, and no request of that kind to that user lost an answer`);
      continue;
    }
    used.add(doubt);
    // A hold whose answer was lost and that ran out (given back) left nothing behind, whatever its retry got.
    if (doubt.via === 'hold' && op.restore) continue;
    if (doubt.end === 'took') run.violate('phantom-take', `${what}: its request, retried with the same key, was answered 201 with another take (taken twice)`);
    if (doubt.end === 'refused') run.violate('refused-but-took', `${what}: its request lost an answer, then its retry with the same key was refused ${String(doubt.code)}`);
  }
}

/** The books at rest never exceed a limit (takes not given back, from the ledger). */
export function checkLedgerLimits(run: Run, book: Book, outstanding: LedgerRow[], storedTotal: (s: StockName) => number | null): void {
  const name = `coupon ${book.index} (ledger)`;
  const { plan } = book;
  const count = (rows: LedgerRow[], key: (r: LedgerRow) => string) => {
    const out = new Map<string, number>();
    for (const r of rows) out.set(key(r), (out.get(key(r)) ?? 0) + 1);
    return out;
  };
  const issues = outstanding.filter((r) => r.kind === 'issue');
  const uses = outstanding.filter((r) => r.kind === 'use');
  for (const [kind, rows] of [['issue', issues], ['use', uses]] as const) {
    const total = storedTotal(kind);
    if (total !== null && rows.length > total) run.violate('oversold', `${name}: ${rows.length} ${kind}s not given back, over the total ${total}`);
    const limit = kind === 'issue' ? plan.perUserIssue : plan.perUserUse;
    if (limit !== null) for (const [user, n] of count(rows, (r) => r.subject)) if (n > limit) run.violate('user-limit', `${name}: ${user} holds ${n} ${kind}s, over the per-user limit ${limit}`);
  }
  if (plan.issueDayCap !== null) {
    for (const [day, n] of count(issues, (r) => String(dayOf(r.at)))) {
      if (n > plan.issueDayCap) run.violate('period-cap', `${name}: ${n} issues taken on day ${new Date(Number(day) * 86_400_000).toISOString().slice(0, 10)} not given back, over the daily cap ${plan.issueDayCap}`);
    }
  }
  const budget = storedTotal('budget');
  const given = uses.reduce((sum, r) => sum + (r.value ?? 0), 0);
  if (budget !== null && given > budget) run.violate('budget', `${name}: discounts not given back ${given}, over the budget ${budget}`);
  if (book.issued) {
    const issued = count(issues, (r) => r.subject);
    for (const [user, n] of count(uses, (r) => r.subject)) if (n > (issued.get(user) ?? 0)) run.violate('used-more-than-issued', `${name}: ${user} used ${n}, holds ${issued.get(user) ?? 0} issued`);
  }
}
