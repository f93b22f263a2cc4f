/**
 * The checks at the end of a run, at rest: faults over, the client's pending requests retried,
 * every hold run out, then the schedule (sweep, drain, rebuild where needed) and a rebuild and
 * a sync of every coupon. Then, per coupon, from the durable ledger (op by op, not only counts):
 *
 * - every 201 is a take in the ledger, every cancel, release or hold expiry a restore, and no
 *   restore happened that no answer allows ("every 2xx answered is in the books");
 * - a take nobody acknowledged belongs to a request whose answer was lost and never became
 *   definite ("every refusal took nothing");
 * - `total − remain = ledger` for every stock and the budget (sync drift 0, nothing missing),
 *   the live total equals the stored one and the adjusts answered, no hold stands;
 * - no stock, per-user limit, daily cap or budget exceeded, no user used more than issued;
 * - an archived coupon's stored remain equals `total − ledger net`.
 */
import { checkSyncReport } from './admin-ops.js';
import { totalRange, type Book } from './books.js';
import { checkLedgerLimits, checkOps, type LedgerOp } from './ledger-checks.js';
import { definite, retryPending, sendRetrying, type Answer, type Request } from './client.js';
import { trace } from './context.js';
import { restorePostgres } from './fault-ops.js';
import type { Run } from './state.js';

export async function finalCheck(run: Run): Promise<void> {
  const { world } = run;
  world.proxy?.clear();
  run.outageLeft = 0;
  await restorePostgres(run);
  for (let round = 0; round < 3 && run.pending.length > 0; round++) await retryPending(run);
  // Heal what the faults broke, as an operator would: rebuild where a key was deleted, then
  // send what is still pending once more (a take refused 503 until the rebuild).
  for (const book of run.books) {
    if (book.damaged === 'no' && !run.pending.some((p) => p.coupon === book.index)) continue;
    const record = await world.inspect.coupon(book.id);
    if (record?.status !== 'confirmed' && record?.status !== 'paused') continue;
    const a = await atRest(run, { method: 'POST', path: `/v1/coupons/${book.id}/rebuild`, admin: true });
    trace(run, `final rebuild c${book.index} ${JSON.stringify(a.body)}`, a);
  }
  for (let round = 0; round < 3 && run.pending.length > 0; round++) await retryPending(run);
  run.stats.unknownAtEnd += run.pending.length;
  // Every hold runs out (also those whose answer was lost: at most 120 s); the schedule must give each back once.
  const latest = Math.max(0, ...run.books.flatMap((b) => [...b.takes.values()].map((t) => t.hold?.expiresAt ?? 0)));
  world.clock.now = Math.max(world.clock.now + 121_000, latest + 1_000);
  trace(run, `FINAL at ${new Date(world.clock.now).toISOString()}: ${run.pending.length} requests left unknown`);
  await world.settle();
  // The schedule: sweep, drain, rebuild what is missing; once more if it rebuilt (holds stuck on a missing gauge).
  if ((await maintain(run)) > 0) await maintain(run);
  await world.settle();
  // At rest nothing holds a connection: one still checked out is lost to the service for good.
  const busy = world.checkedOut();
  if (busy > 0) run.violate('connection-leak', `${busy} PostgreSQL connections of the service's pool are still checked out at rest (never given back after the link was cut)`);
  for (const book of run.books) await checkBook(run, book);
  run.throwIfBroken();
}

/**
 * Runs the schedule at rest; returns how many coupons it rebuilt. A run that throws is retried
 * twice, as the next tick of the interval would: right after an outage the pool may still hold
 * a connection the cut killed.
 */
async function maintain(run: Run): Promise<number> {
  let error: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const summary = await run.world.maintenance.run();
      trace(run, `final maintenance ${JSON.stringify({ archived: summary.archived, rebuilt: summary.rebuilt, failed: summary.failed })}`);
      if (summary.failed.length === 0) return summary.rebuilt.length;
      error = new Error(JSON.stringify(summary.failed));
    } catch (e) {
      error = e;
      trace(run, `final maintenance threw: ${String(e).slice(0, 200)}`);
    }
  }
  run.violate('unexpected-answer', `the schedule at rest failed three times: ${String(error).slice(0, 300)}`);
  return 0;
}

/** A request at rest: retried while the answer is not definite (a pooled connection the outage killed). */
async function atRest(run: Run, req: Request): Promise<Answer> {
  const answers = await sendRetrying(run, req);
  return answers.find(definite) ?? (answers[answers.length - 1] as Answer);
}

async function checkBook(run: Run, book: Book): Promise<void> {
  const { world } = run;
  const name = `coupon ${book.index}`;
  const record = await world.inspect.coupon(book.id);
  if (!record) return run.violate('unexpected-answer', `${name}: gone from Postgres`);
  const rows = await world.inspect.ledger(book.id);
  const ops = new Map<string, LedgerOp>();
  for (const row of rows) if (row.action === 'take') ops.set(row.opId, { take: row, restore: undefined });
  for (const row of rows) {
    if (row.action !== 'restore') continue;
    const op = ops.get(row.opId);
    if (op) op.restore = row;
    else run.violate('phantom-restore', `${name}: a restore of ${row.opId} that was never taken`);
  }
  const outstanding = [...ops.values()].filter((o) => !o.restore).map((o) => o.take);
  const open = await world.inspect.policyOpen(book.id);
  if (open === true && record.status !== 'confirmed') run.violate('status-mismatch', `${name} is ${record.status} in Postgres but its gauges' policy is open at rest`);
  if (open === false && record.status === 'confirmed') run.violate('status-mismatch', `${name} is confirmed in Postgres but its gauges' policy is closed at rest`);

  if (record.status === 'confirmed' || record.status === 'paused') {
    const synced = await atRest(run, { method: 'POST', path: `/v1/coupons/${book.id}/stocks/sync`, admin: true });
    trace(run, `final sync c${book.index} ${JSON.stringify(synced.body)}`, synced);
    if (synced.status !== 200) run.violate('drift', `${name}: the sync at rest answered ${synced.status}`);
    else {
      const missing = (synced.body.missing ?? []) as string[];
      if (missing.length > 0) run.violate('drift', `${name}: gauges ${JSON.stringify(missing)} still missing at rest, after the schedule and a rebuild`);
      checkSyncReport(run, false, { ...book, damaged: 'no' }, synced);
    }
    const live = await atRest(run, { method: 'GET', path: `/v1/coupons/${book.id}/stocks/live` });
    trace(run, `final live c${book.index} ${JSON.stringify(live.body)}`, live);
    if (live.status === 200) {
      if (Number(live.body.holds ?? 0) > 0) run.violate('hold-standing', `${name}: ${String(live.body.holds)} holds standing after every hold ran out and the schedule swept`);
      for (const stock of ['issue', 'use', 'budget'] as const) {
        const liveTotal = (live.body[stock] as { total: number } | null | undefined)?.total;
        const stored = record.stocks[stock]?.total;
        if (liveTotal !== undefined && stored !== undefined && liveTotal !== stored) {
          run.violate('total-mismatch', `${name}: the live ${stock} total is ${liveTotal}, Postgres says ${stored}`);
        }
      }
    }
  } else if (record.status === 'archived') {
    for (const stock of ['issue', 'use', 'budget'] as const) {
      const s = record.stocks[stock];
      if (!s) continue;
      const net = stock === 'budget' ? outstanding.reduce((sum, r) => sum + (r.value ?? 0), 0) : outstanding.filter((r) => r.kind === stock).length;
      if (s.remain !== s.total - net) run.violate('archived-books', `${name} archived: stored ${stock} remain ${s.remain} ≠ total ${s.total} − ledger net ${net}`);
    }
  }
  for (const stock of ['issue', 'use', 'budget'] as const) {
    const stored = record.stocks[stock]?.total;
    const range = totalRange(book, stock);
    const exactTotal = book.adjusts.every((a) => a.stock !== stock || a.state === 'yes');
    if (range && stored !== undefined && (exactTotal ? stored !== range.min : stored < range.min || stored > range.max)) {
      run.violate('total-mismatch', `${name}: stored ${stock} total ${stored}, the adjusts answered make it ${exactTotal ? range.min : `${range.min}..${range.max}`}`);
    }
  }
  checkOps(run, book, ops);
  checkLedgerLimits(run, book, outstanding, (stock) => record.stocks[stock]?.total ?? null);
}
