/**
 * The operations the model drives, as plain data (so fast-check can print, shrink and replay
 * them), and their arbitraries. Targets are indexes resolved when the command runs ("the k-th
 * acknowledged issue of coupon c", modulo what exists), so a shrunk list still means something.
 */
import fc from 'fast-check';
import type { Plan, StockName } from './books.js';
import type { LostAnswer } from './fault-proxy.js';
import type { GaugeKind } from './world.js';

/** Keys of a coupon a fault may delete (what eviction or a failover that lost writes does). */
export const KEY_CATEGORIES = ['stock', 'policy', 'user', 'period', 'holds', 'op'] as const;
export type KeyCategory = (typeof KEY_CATEGORIES)[number];

export type Op =
  | { t: 'issue'; c: number; u: number }
  | { t: 'batch'; c: number; us: number[] }
  | { t: 'use'; c: number; u: number; holder: boolean; d: number }
  | { t: 'hold'; c: number; u: number; holder: boolean; again: number | null; ttl: number; d: number }
  | { t: 'commit' | 'release' | 'cancelIssue' | 'cancelUse' | 'replay'; c: number; k: number }
  | { t: 'adjust'; c: number; stock: StockName; delta: number }
  | { t: 'pause' | 'resume' | 'archive' | 'sync' | 'rebuild' | 'live'; c: number }
  | { t: 'maintenance' }
  | { t: 'clock'; ms: number }
  | { t: 'delete'; c: number; cat: KeyCategory; k: number }
  | { t: 'lose'; n: number; mode: LostAnswer }
  | { t: 'outage'; commands: number }
  | { t: 'blip'; ms: number }
  | { t: 'retry' }
  /** A checkout surge: `n` holds by new owners at once. */
  | { t: 'holds'; c: number; n: number; ttl: number; d: number }
  | { t: 'together'; ops: Op[]; offsets: number[] };

/** A compact name for the printed counterexample. */
export function describeOp(op: Op): string {
  const { t, ...rest } = op;
  if (op.t === 'together') return `together(${op.ops.map((o, i) => `${describeOp(o)}@${op.offsets[i] ?? 0}`).join(', ')})`;
  return `${t}(${Object.entries(rest).map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(',')}]` : String(v)}`).join(',')})`;
}

const c = fc.nat(1);
const k = fc.nat(30);
const u = fc.nat(5);
const discount = fc.integer({ min: 5, max: 60 });
/** When an operation of a moment starts: 0–3 event-loop turns, or 8–296 ms (see `waitOffset`). */
const offset = fc.oneof({ arbitrary: fc.nat(3), weight: 2 }, { arbitrary: fc.integer({ min: 4, max: 40 }), weight: 1 });

const take = {
  issue: fc.record({ t: fc.constant('issue' as const), c, u }),
  batch: fc.record({ t: fc.constant('batch' as const), c, us: fc.array(u, { minLength: 1, maxLength: 5 }) }),
  use: fc.record({ t: fc.constant('use' as const), c, u, holder: fc.boolean(), d: discount }),
  hold: fc.record({
    t: fc.constant('hold' as const),
    c,
    u,
    holder: fc.boolean(),
    again: fc.option(fc.nat(10), { nil: null, freq: 2 }),
    ttl: fc.constantFrom(1, 5, 30, 120),
    d: discount,
  }),
};
const target = (t: 'commit' | 'release' | 'cancelIssue' | 'cancelUse' | 'replay') => fc.record({ t: fc.constant(t), c, k });
const coupon = (t: 'pause' | 'resume' | 'archive' | 'sync' | 'rebuild' | 'live') => fc.record({ t: fc.constant(t), c });
const adjust = fc.record({
  t: fc.constant('adjust' as const),
  c,
  stock: fc.constantFrom<StockName>('issue', 'use', 'budget'),
  delta: fc.integer({ min: -3, max: 4 }).filter((d) => d !== 0),
});
/** Per-user counters and period gauges most often: they are the keys a lost write turns into "nothing taken yet". */
const category = fc.oneof(
  { arbitrary: fc.constant<KeyCategory>('user'), weight: 3 },
  { arbitrary: fc.constant<KeyCategory>('period'), weight: 2 },
  { arbitrary: fc.constant<KeyCategory>('stock'), weight: 2 },
  { arbitrary: fc.constant<KeyCategory>('policy'), weight: 1 },
  { arbitrary: fc.constant<KeyCategory>('holds'), weight: 1 },
  { arbitrary: fc.constant<KeyCategory>('op'), weight: 1 },
);
const remove = fc.record({ t: fc.constant('delete' as const), c, cat: category, k });
const blip = fc.record({ t: fc.constant('blip' as const), ms: fc.integer({ min: 2, max: 60 }) });
const lose = fc.record({ t: fc.constant('lose' as const), n: fc.integer({ min: 1, max: 3 }), mode: fc.constantFrom<LostAnswer>('drop', '500') });
const surge = fc.record({ t: fc.constant('holds' as const), c, n: fc.integer({ min: 6, max: 20 }), ttl: fc.constantFrom(1, 5), d: fc.integer({ min: 3, max: 12 }) });

/** Client operations (what a crowd sends while an admin acts). */
const clientOps: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: take.issue, weight: 4 },
  { arbitrary: take.use, weight: 3 },
  { arbitrary: take.hold, weight: 2 },
  { arbitrary: target('commit'), weight: 2 },
  { arbitrary: target('release'), weight: 2 },
  { arbitrary: target('cancelIssue'), weight: 4 },
  { arbitrary: target('cancelUse'), weight: 4 },
);

/** What an admin, the schedule or a fault does while the crowd runs. */
function adminOps(kind: GaugeKind): fc.Arbitrary<Op> {
  return fc.oneof(
    { arbitrary: coupon('archive'), weight: 3 },
    { arbitrary: coupon('pause'), weight: 2 },
    { arbitrary: coupon('resume'), weight: 2 },
    { arbitrary: coupon('rebuild'), weight: 2 },
    { arbitrary: coupon('sync'), weight: 1 },
    { arbitrary: fc.constant<Op>({ t: 'maintenance' }), weight: 2 },
    { arbitrary: adjust, weight: 2 },
    { arbitrary: blip, weight: 1 },
    ...(kind !== 'postgres' ? [{ arbitrary: remove, weight: 2 }, { arbitrary: lose, weight: 2 }] : []),
  );
}

/** What may run at the same time as other operations. */
function concurrentOps(kind: GaugeKind): fc.Arbitrary<Op> {
  return fc.oneof(
    { arbitrary: take.issue, weight: 6 },
    { arbitrary: take.batch, weight: 2 },
    { arbitrary: take.use, weight: 5 },
    { arbitrary: take.hold, weight: 4 },
    { arbitrary: target('commit'), weight: 2 },
    { arbitrary: target('release'), weight: 2 },
    { arbitrary: target('cancelIssue'), weight: 4 },
    { arbitrary: target('cancelUse'), weight: 3 },
    { arbitrary: target('replay'), weight: 1 },
    { arbitrary: adjust, weight: 2 },
    { arbitrary: coupon('pause'), weight: 1 },
    { arbitrary: coupon('resume'), weight: 1 },
    { arbitrary: coupon('archive'), weight: 1 },
    { arbitrary: coupon('sync'), weight: 1 },
    { arbitrary: coupon('rebuild'), weight: 1 },
    { arbitrary: fc.constant<Op>({ t: 'maintenance' }), weight: 1 },
    { arbitrary: blip, weight: 1 },
    ...(kind !== 'postgres' ? [{ arbitrary: remove, weight: 1 }, { arbitrary: lose, weight: 1 }] : []),
  );
}

/** One command: an operation alone, a fault, or 2–8 operations fired at once. */
export function opArbitrary(kind: GaugeKind): fc.Arbitrary<Op> {
  // Each operation with when it starts (see `waitOffset`; pairs, so both shrink together).
  const together = fc
    .array(fc.tuple(concurrentOps(kind), offset), { minLength: 2, maxLength: 8 })
    .map((pairs): Op => ({ t: 'together', ops: pairs.map(([op]) => op), offsets: pairs.map(([, at]) => at) }));
  // An admin action in a crowd of client requests (an archive among cancels, a pause among takes).
  const rush = fc
    .tuple(adminOps(kind), offset, fc.array(fc.tuple(clientOps, offset), { minLength: 2, maxLength: 7 }))
    .map(([admin, at, crowd]): Op => ({ t: 'together', ops: [admin, ...crowd.map(([op]) => op)], offsets: [at, ...crowd.map(([, o]) => o)] }));
  const redisOnly: fc.WeightedArbitrary<Op>[] =
    kind !== 'postgres'
      ? [
          { arbitrary: remove, weight: 4 },
          { arbitrary: lose, weight: 5 },
        ]
      : [];
  return fc.oneof(
    { arbitrary: take.issue, weight: 10 },
    { arbitrary: take.batch, weight: 3 },
    { arbitrary: take.use, weight: 9 },
    { arbitrary: take.hold, weight: 6 },
    { arbitrary: target('commit'), weight: 3 },
    { arbitrary: target('release'), weight: 2 },
    { arbitrary: target('cancelIssue'), weight: 4 },
    { arbitrary: target('cancelUse'), weight: 4 },
    { arbitrary: target('replay'), weight: 2 },
    { arbitrary: adjust, weight: 3 },
    { arbitrary: coupon('pause'), weight: 2 },
    { arbitrary: coupon('resume'), weight: 3 },
    { arbitrary: coupon('archive'), weight: 1 },
    { arbitrary: coupon('sync'), weight: 2 },
    { arbitrary: coupon('rebuild'), weight: 2 },
    { arbitrary: coupon('live'), weight: 2 },
    { arbitrary: fc.constant<Op>({ t: 'maintenance' }), weight: 3 },
    {
      arbitrary: fc.record({ t: fc.constant('clock' as const), ms: fc.oneof({ arbitrary: fc.integer({ min: 500, max: 130_000 }), weight: 6 }, { arbitrary: fc.integer({ min: 3_600_000, max: 8 * 3_600_000 }), weight: 1 }) }),
      weight: 5,
    },
    { arbitrary: fc.record({ t: fc.constant('outage' as const), commands: fc.integer({ min: 1, max: 3 }) }), weight: 2 },
    { arbitrary: fc.constant<Op>({ t: 'retry' }), weight: 2 },
    { arbitrary: together, weight: 7 },
    { arbitrary: rush, weight: 5 },
    { arbitrary: surge, weight: 3 },
    ...redisOnly,
  );
}

/** A coupon of the run: issued (an issue stock) or a public code, small enough to run out. */
export const planArbitrary: fc.Arbitrary<Plan> = fc.oneof(
  fc.record({
    issueTotal: fc.integer({ min: 2, max: 8 }),
    useTotal: fc.option(fc.integer({ min: 1, max: 6 }), { nil: null, freq: 4 }),
    budget: fc.option(fc.integer({ min: 40, max: 250 }), { nil: null, freq: 2 }),
    perUserIssue: fc.option(fc.integer({ min: 1, max: 2 }), { nil: null, freq: 3 }),
    perUserUse: fc.option(fc.integer({ min: 1, max: 2 }), { nil: null }),
    issueDayCap: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }),
    endsAfter: fc.option(fc.integer({ min: 1, max: 12 }).map((h) => h * 3_600_000), { nil: null }),
  }),
  fc.record({
    issueTotal: fc.constant(null),
    // Small stocks run out; a large or no use stock lets a checkout surge pile up holds.
    useTotal: fc.oneof(fc.integer({ min: 2, max: 8 }), fc.integer({ min: 15, max: 40 }), fc.constant(null)),
    budget: fc.option(fc.integer({ min: 40, max: 250 }), { nil: null, freq: 2 }),
    perUserIssue: fc.constant(null),
    perUserUse: fc.option(fc.integer({ min: 1, max: 2 }), { nil: null }),
    issueDayCap: fc.constant(null),
    endsAfter: fc.option(fc.integer({ min: 1, max: 12 }).map((h) => h * 3_600_000), { nil: null }),
  }),
);
