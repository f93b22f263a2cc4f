/**
 * Runs one command (an operation alone, or several fired at once), then checks the run at
 * rest: no limit exceeded by what was acknowledged, and the gauges' open flag agreeing with the
 * coupon's durable status.
 */
import fc from 'fast-check';
import { adjust, lifecycle, live, maintenance, rebuild, sync } from './admin-ops.js';
import { checkLimits } from './checks.js';
import { bookOf, type Ctx } from './context.js';
import { advanceClock, blip, deleteKey, loseAnswers, outage, restorePostgres, retry } from './fault-ops.js';
import { describeOp, type Op } from './ops.js';
import { settleTake } from './settle-ops.js';
import type { Run } from './state.js';
import { batch } from './batch-op.js';
import { hold, issue, replay, use } from './take-ops.js';

async function execute(ctx: Ctx, op: Op, deletesInMoment: boolean): Promise<void> {
  switch (op.t) {
    case 'issue':
      return issue(ctx, op);
    case 'batch':
      return batch(ctx, op);
    case 'use':
      return use(ctx, op);
    case 'hold':
      return hold(ctx, op);
    case 'commit':
    case 'release':
    case 'cancelIssue':
    case 'cancelUse':
      return settleTake(ctx, { ...op, t: op.t });
    case 'replay':
      return replay(ctx, op);
    case 'adjust':
      return adjust(ctx, op);
    case 'pause':
    case 'resume':
    case 'archive':
      return lifecycle(ctx, { ...op, t: op.t });
    case 'sync':
      return sync(ctx, op);
    case 'rebuild':
      return rebuild(ctx, op, deletesInMoment);
    case 'live':
      return live(ctx, op);
    case 'maintenance':
      return maintenance(ctx, deletesInMoment);
    case 'clock':
      return advanceClock(ctx, op.ms);
    case 'delete':
      return deleteKey(ctx, op);
    case 'lose':
      return loseAnswers(ctx, op);
    case 'outage':
      return outage(ctx, op.commands);
    case 'blip':
      return blip(ctx, op.ms);
    case 'retry':
      return retry(ctx);
    case 'together':
      return together(ctx.run, op);
    case 'holds': {
      const ops: Op[] = Array.from({ length: op.n }, (_, i) => ({ t: 'hold', c: op.c, u: i, holder: true, again: null, ttl: op.ttl, d: op.d }));
      return together(ctx.run, { ops, offsets: ops.map(() => 0) });
    }
  }
}

/** Coupons an operation may move the status of (the schedule archives, a rebuild rewrites the policy). */
function moves(run: Run, op: Op): number[] {
  if (op.t === 'pause' || op.t === 'resume' || op.t === 'archive' || op.t === 'rebuild') return [bookOf(run, op.c).index];
  if (op.t === 'maintenance') return run.books.map((b) => b.index);
  return [];
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/**
 * When an operation of a moment starts: 0–3 event-loop turns after the moment, or from 4 on,
 * (offset − 3) × 8 ms later, so some land in the middle of a slow one (an archive's final sync
 * takes 50–300 ms on two busy cores).
 */
export async function waitOffset(offset: number): Promise<void> {
  if (offset < 4) for (let n = 0; n < offset; n++) await tick();
  else await new Promise((resolve) => setTimeout(resolve, (offset - 3) * 8));
}

async function together(run: Run, op: { ops: Op[]; offsets: number[] }): Promise<void> {
  const moving = new Set(op.ops.flatMap((o) => moves(run, o)));
  const deletes = op.ops.some((o) => o.t === 'delete');
  const ctx: Ctx = { run, together: true, moving };
  await Promise.all(
    op.ops.map(async (o, i) => {
      await waitOffset(op.offsets[i] ?? 0);
      await execute(ctx, o, deletes);
    }),
  );
  for (const index of moving) {
    const book = run.books[index];
    if (book && book.status !== 'archived') book.status = 'unknown';
  }
}

/** Commands after which a status may have moved (or a status in doubt may have settled). */
const STATUS_MOVERS = new Set<Op['t']>(['pause', 'resume', 'archive', 'rebuild', 'maintenance', 'together', 'retry', 'delete']);

/** After a command: limits checked; where a status may have moved, it is read back and the open flag checked. */
async function atRest(run: Run, op: Op): Promise<void> {
  const moved = STATUS_MOVERS.has(op.t);
  for (const book of run.books) {
    checkLimits(run, book);
    if (!moved && book.status !== 'unknown') continue;
    const record = await run.world.inspect.coupon(book.id);
    const durable = record?.status;
    if (book.status === 'unknown' && book.pendingStatus === 0 && durable && durable !== 'draft') {
      book.status = durable;
      // The archive's transition is its last write to the record: its clock is the seal's.
      if (durable === 'archived' && record) book.archivedAt = record.updatedAt.getTime();
    }
    if (book.status === 'unknown' || book.pendingStatus > 0 || !durable) continue;
    if (durable !== book.status) run.violate('status-mismatch', `coupon ${book.index}: the last answers say ${book.status}, Postgres says ${durable}`);
    const open = await run.world.inspect.policyOpen(book.id);
    if (open !== null && open !== (durable === 'confirmed')) {
      run.violate('status-mismatch', `coupon ${book.index} is ${durable} in Postgres but its gauges' policy says ${open ? 'open' : 'closed'}`);
    }
  }
}

/** A fast-check command: one operation (or moment), then the checks at rest. */
export class ModelCommand implements fc.AsyncCommand<object, Run> {
  constructor(readonly op: Op) {}

  check(): boolean {
    return true;
  }

  async run(_model: object, run: Run): Promise<void> {
    run.commandNo += 1;
    run.commandStarted = Date.now();
    run.stats.commands += 1;
    run.stats.bump(run.stats.byCommand, this.op.t);
    if (run.outageLeft > 0) {
      run.outageLeft -= 1;
      if (run.outageLeft === 0) await restorePostgres(run);
    }
    const started = Date.now();
    await execute({ run, together: false, moving: new Set() }, this.op, this.op.t === 'delete');
    run.stats.bump(run.stats.millis, this.op.t, Date.now() - started);
    const checked = Date.now();
    await atRest(run, this.op);
    run.stats.bump(run.stats.millis, 'at-rest checks', Date.now() - checked);
    run.throwIfBroken();
  }

  toString(): string {
    return describeOp(this.op);
  }
}
