/**
 * Admin operations: adjust a live limit (with an Idempotency-Key, retried like a take), pause,
 * resume, archive, sync, rebuild, the live numbers, and the scheduled maintenance.
 */
import { exact, standingHolds, totalRange, type Adjustment, type StockName } from './books.js';
import { allowedAnswer } from './checks.js';
import { perform, type Answer } from './client.js';
import { bookOf, trace, type Ctx } from './context.js';
import type { Run } from './state.js';

interface StockReport {
  total: number;
  remain: number;
  ledger: number;
  drift: number;
}

/** A total the product reports must be one the acknowledged adjusts (and those in doubt) allow. */
function checkTotal(run: Run, what: string, book: ReturnType<typeof bookOf>, stock: StockName, total: number | undefined): void {
  const range = totalRange(book, stock);
  if (!range || total === undefined) return;
  const exactTotal = book.adjusts.every((a) => a.stock !== stock || a.state === 'yes');
  if (exactTotal ? total !== range.min : total < range.min || total > range.max) {
    run.violate('total-mismatch', `${what}: ${stock} total ${total}, the acknowledged adjusts make it ${exactTotal ? range.min : `${range.min}..${range.max}`}`);
  }
}

export async function adjust(ctx: Ctx, op: { c: number; stock: StockName; delta: number }): Promise<void> {
  const { run } = ctx;
  const book = bookOf(run, op.c);
  const delta = op.stock === 'budget' ? op.delta * 10 : op.delta;
  const key = run.fresh('adj');
  const what = `adjust ${op.stock} ${delta > 0 ? '+' : ''}${delta} on coupon ${book.index}`;
  let doubt: Adjustment | null = null;
  await perform(run, book.index, { method: 'POST', path: `/v1/coupons/${book.id}/stocks/${op.stock}/adjust`, body: { delta }, key, admin: true }, {
    doubt: () => {
      doubt = { stock: op.stock, delta, state: 'maybe' };
      book.adjusts.push(doubt);
    },
    settle: (a, _doubted, late) => {
      trace(run, `${what} key=${key}`, a);
      if (a.status !== 200) return allowedAnswer(run, 'adjust', a, 200, what);
      if (doubt) doubt.state = 'yes';
      else book.adjusts.push({ stock: op.stock, delta, state: 'yes' });
      if (!ctx.together && !late) checkTotal(run, what, book, op.stock, Number(a.body.total));
    },
  });
}

export async function lifecycle(ctx: Ctx, op: { t: 'pause' | 'resume' | 'archive'; c: number }): Promise<void> {
  const { run } = ctx;
  const book = bookOf(run, op.c);
  const to = op.t === 'pause' ? 'paused' : op.t === 'resume' ? 'confirmed' : 'archived';
  let doubted = false;
  await perform(run, book.index, { method: 'POST', path: `/v1/coupons/${book.id}/${op.t}`, admin: true }, {
    doubt: () => {
      doubted = true;
      book.pendingStatus += 1;
      book.status = 'unknown';
    },
    settle: (a) => {
      trace(run, `${op.t} c${book.index}`, a);
      if (doubted) book.pendingStatus -= 1;
      if (a.status !== 200) return allowedAnswer(run, op.t, a, 200, `${op.t} of coupon ${book.index}`);
      if (a.body.status !== to) run.violate('unexpected-answer', `${op.t} of coupon ${book.index} answered 200 with status ${String(a.body.status)}`);
      // Fired with others, the order is not known: the status is read back at rest.
      book.status = ctx.together || book.pendingStatus > 0 ? 'unknown' : to;
      if (book.status === 'archived') book.archivedAt = run.now;
    },
  });
}

export async function sync(ctx: Ctx, op: { c: number }): Promise<void> {
  const { run } = ctx;
  const book = bookOf(run, op.c);
  await perform(run, book.index, { method: 'POST', path: `/v1/coupons/${book.id}/stocks/sync`, admin: true }, {
    settle: (a, _doubted, late) => {
      trace(run, `sync c${book.index} ${a.status === 200 ? JSON.stringify({ missing: a.body.missing, drifted: a.body.drifted }) : ''}`, a);
      if (a.status !== 200) return allowedAnswer(run, 'sync', a, 200, `sync of coupon ${book.index}`);
      checkSyncReport(run, ctx.together || late, book, a);
    },
  });
}

/** A sync at rest must balance: nothing missing, no drift, `total − remain = ledger` for each stock. */
export function checkSyncReport(run: Run, together: boolean, book: ReturnType<typeof bookOf>, a: Answer): void {
  const what = `sync of coupon ${book.index}`;
  const missing = (a.body.missing ?? []) as string[];
  // Takes landing between a sync's drain and its read show as drift: only a sync at rest proves it.
  if (together || missing.length > 0 || book.damaged !== 'no') return;
  const drifted = (a.body.drifted ?? []) as string[];
  if (drifted.length > 0) run.violate('drift', `${what} at rest: drifted ${JSON.stringify(drifted)}: ${JSON.stringify({ issue: a.body.issue, use: a.body.use, budget: a.body.budget })}`);
  for (const stock of ['issue', 'use', 'budget'] as const) {
    const r = a.body[stock] as StockReport | null | undefined;
    if (!r) continue;
    if (r.total - r.remain !== r.ledger || r.remain < 0) run.violate('drift', `${what} at rest: ${stock} total ${r.total} − remain ${r.remain} ≠ ledger ${r.ledger}`);
    checkTotal(run, what, book, stock, r.total);
  }
}

export async function rebuild(ctx: Ctx, op: { c: number }, deletesInMoment: boolean): Promise<void> {
  const { run } = ctx;
  const book = bookOf(run, op.c);
  await perform(run, book.index, { method: 'POST', path: `/v1/coupons/${book.id}/rebuild`, admin: true }, {
    settle: (a) => {
      trace(run, `rebuild c${book.index} ${a.status === 200 ? JSON.stringify(a.body) : ''}`, a);
      if (a.status !== 200) return allowedAnswer(run, 'rebuild', a, 200, `rebuild of coupon ${book.index}`);
      if (book.damaged === 'until-rebuild' && !deletesInMoment) book.damaged = 'no';
    },
  });
}

export async function live(ctx: Ctx, op: { c: number }): Promise<void> {
  const { run } = ctx;
  const book = bookOf(run, op.c);
  const wasExact = !ctx.together && exact(book);
  await perform(run, book.index, { method: 'GET', path: `/v1/coupons/${book.id}/stocks/live` }, {
    settle: (a, _doubted, late) => {
      trace(run, `live c${book.index} ${a.status === 200 ? JSON.stringify(a.body) : ''}`, a);
      if (a.status !== 200) return allowedAnswer(run, 'live', a, 200, `live of coupon ${book.index}`);
      if (!wasExact || late || book.status === 'archived') return;
      const holds = Number(a.body.holds ?? 0);
      const standing = standingHolds(book, run.now).length;
      if (holds !== standing) run.violate('hold-standing', `live of coupon ${book.index}: ${holds} holds standing, the model has ${standing}`);
      for (const stock of ['issue', 'use', 'budget'] as const) {
        checkTotal(run, `live of coupon ${book.index}`, book, stock, (a.body[stock] as { total: number } | null | undefined)?.total);
      }
    },
  });
}

/** The scheduled job (`Maintenance.run()`), as the host's interval runs it. */
export async function maintenance(ctx: Ctx, deletesInMoment: boolean): Promise<void> {
  const { run } = ctx;
  try {
    const summary = await run.world.maintenance.run();
    trace(run, `maintenance ${JSON.stringify({ archived: summary.archived, rebuilt: summary.rebuilt, failed: summary.failed.length })}`);
    for (const book of run.books) {
      if (summary.rebuilt.includes(book.id) && book.damaged === 'until-rebuild' && !deletesInMoment) book.damaged = 'no';
    }
  } catch (error) {
    trace(run, `maintenance failed: ${String(error).slice(0, 120)}`);
  }
  // It archives coupons whose windows ended: their status is read back at rest.
  for (const book of run.books) if (book.endsAt !== null && run.now >= book.endsAt && book.status !== 'archived') book.status = 'unknown';
}
