/**
 * Time and faults: the service's clock moved on, a key of a coupon deleted from Redis, the next
 * answers from Redis lost after they ran, PostgreSQL unreachable for a few commands (or for a
 * few milliseconds while other operations run), and the client's pending retries.
 */
import { retryPending } from './client.js';
import { bookOf, trace, type Ctx } from './context.js';
import type { LostAnswer } from './fault-proxy.js';
import type { KeyCategory } from './ops.js';
import type { Run } from './state.js';

/** Which keys of a coupon each category names (`i:` idempotency records and the ledger stream are never deleted: see README). */
const CATEGORY: Record<KeyCategory, RegExp> = {
  stock: /}:(issue|use|budget)$/,
  policy: /}:policy$/,
  user: /}:(ui|uu|uh):/,
  period: /}:p:/,
  holds: /}:holds$/,
  op: /}:o:/,
};

export function advanceClock(ctx: Ctx, ms: number): void {
  ctx.run.world.clock.now += ms;
  trace(ctx.run, `clock +${ms} ms → ${new Date(ctx.run.now).toISOString()}`);
}

export async function deleteKey(ctx: Ctx, op: { c: number; cat: KeyCategory; k: number }): Promise<void> {
  const { run } = ctx;
  const book = bookOf(run, op.c);
  const keys = (await run.world.inspect.keys(book.id)).filter((key) => CATEGORY[op.cat].test(key));
  const key = keys[op.k % Math.max(1, keys.length)];
  if (!key) return trace(run, `delete ${op.cat} of c${book.index}: none`);
  await run.world.inspect.deleteKey(key);
  run.stats.bump(run.stats.faults, `key-deleted:${op.cat}`);
  // Gauges and the policy come back from the ledger; hold lists and operation records do not.
  book.damaged = op.cat === 'holds' || op.cat === 'op' || book.damaged === 'for-good' ? 'for-good' : 'until-rebuild';
  if (op.cat === 'op') {
    const id = key.slice(key.lastIndexOf(':o:') + 3);
    book.lostRecords.add(id);
    const take = book.takes.get(id);
    if (take) take.recordLost = true;
  }
  trace(run, `DELETED ${key}`);
}

export function loseAnswers(ctx: Ctx, op: { n: number; mode: LostAnswer }): void {
  ctx.run.world.proxy?.loseNext(op.n, op.mode);
  trace(ctx.run, `the next ${op.n} answers from Redis are lost (${op.mode}) after they ran`);
}

export async function cutPostgres(run: Run): Promise<void> {
  if (run.world.linkDown) return;
  await run.world.link.cut();
  run.world.linkDown = true;
}

export async function restorePostgres(run: Run): Promise<void> {
  if (!run.world.linkDown) return;
  await run.world.link.restore();
  run.world.linkDown = false;
}

export async function outage(ctx: Ctx, commands: number): Promise<void> {
  if (ctx.run.world.linkDown) return;
  await cutPostgres(ctx.run);
  ctx.run.outageLeft = commands;
  ctx.run.stats.bump(ctx.run.stats.faults, 'postgres-outage');
  trace(ctx.run, `POSTGRES DOWN for ${commands} commands`);
}

/** The link cut while the other operations of the moment run, restored `ms` later. */
export async function blip(ctx: Ctx, ms: number): Promise<void> {
  if (ctx.run.world.linkDown) return;
  await cutPostgres(ctx.run);
  ctx.run.stats.bump(ctx.run.stats.faults, 'postgres-blip');
  trace(ctx.run, `POSTGRES DOWN for ${ms} ms`);
  await new Promise((resolve) => setTimeout(resolve, ms));
  await restorePostgres(ctx.run);
}

export async function retry(ctx: Ctx): Promise<void> {
  const before = ctx.run.pending.length;
  await retryPending(ctx.run);
  trace(ctx.run, `retry pending: ${before} → ${ctx.run.pending.length}`);
}
