/**
 * The soak's bookkeeping, bounded whatever the length of the run (the memory check would
 * otherwise measure the test): fixed counters per coupon, and small pools of recent takes for
 * the cancels, uses and replays to pick from.
 */

/** A seeded PRNG (mulberry32), so a failing run can be replayed with SOAK_SEED. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A pool that keeps at most `max` items, dropping the oldest. */
export class Pool<T> {
  private items: T[] = [];

  constructor(private readonly max: number) {}

  add(item: T): void {
    this.items.push(item);
    if (this.items.length > this.max) this.items.splice(0, this.items.length - this.max);
  }

  /** A random item, left in the pool. */
  pick(rng: () => number): T | undefined {
    return this.items[Math.floor(rng() * this.items.length)];
  }

  /** A random item, taken out so no other worker gets it. */
  take(rng: () => number): T | undefined {
    if (this.items.length === 0) return undefined;
    const i = Math.floor(rng() * this.items.length);
    const [item] = this.items.splice(i, 1);
    return item;
  }
}

export type Kind = 'issue' | 'use';

export interface CouponBook {
  id: string;
  /** A public code: no issue, uses by anyone. */
  public: boolean;
  perUserIssueLimit: number | null;
  perUserUseLimit: number;
  /** New takes the API acknowledged (201 without Idempotent-Replayed). */
  taken: Record<Kind, number>;
  /** Cancels that gave stock back (the first 200 for an id). */
  cancelled: Record<Kind, number>;
  issues: Pool<{ id: string; user: string }>;
  uses: Pool<string>;
  /** Holds not yet committed, released or seen expired: each will be given back exactly once. */
  openHolds: number;
  /** Some open holds, to commit, release or hold again (the pool may drop some: they expire). */
  holds: Pool<{ id: string; user: string; owner: string; discount: number | null }>;
  /** Whether uses must state a discount (the coupon has a money budget). */
  budgeted: boolean;
  /** A small stock, sized to sell out during the run. */
  small: boolean;
  /** Refusals of takes and holds, by problem code. */
  refused: Record<string, number>;
}

export const newBook = (id: string, isPublic: boolean, perUserIssueLimit: number | null, perUserUseLimit: number): CouponBook => ({
  id,
  public: isPublic,
  perUserIssueLimit,
  perUserUseLimit,
  taken: { issue: 0, use: 0 },
  cancelled: { issue: 0, use: 0 },
  issues: new Pool(400),
  uses: new Pool(400),
  openHolds: 0,
  holds: new Pool(400),
  budgeted: false,
  small: false,
  refused: {},
});

/** A take sent with an Idempotency-Key, and its first answer, to replay. */
export interface Replayable {
  path: string;
  key: string;
  body: Record<string, unknown>;
  first: string;
}

/** Answers by status and problem code: `201`, `409 SOLD_OUT`, … */
export class Tally {
  readonly counts = new Map<string, number>();
  total = 0;

  add(status: number, code?: string): void {
    const name = code ? `${status} ${code}` : String(status);
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
    this.total += 1;
  }

  serverErrors(): number {
    return [...this.counts].filter(([name]) => name.startsWith('5')).reduce((n, [, c]) => n + c, 0);
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => a.localeCompare(b)));
  }
}

/** Heap samples after a full GC (when `--expose-gc` is on). */
export class HeapWatch {
  readonly samples: number[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;

  start(everyMs: number): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.sample();
  }

  private sample(): void {
    globalThis.gc?.();
    this.samples.push(process.memoryUsage().heapUsed);
  }

  /** Whether the samples were taken after a full collection (`--expose-gc`, as `npm run test:chaos` runs). */
  readonly collected = typeof globalThis.gc === 'function';

  /** Mean heap of the first and last third of the run (the first sample, before any load, left out). */
  thirds(): { first: number; last: number } {
    const loaded = this.samples.slice(1);
    const third = Math.max(1, Math.floor(loaded.length / 3));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    return { first: mean(loaded.slice(0, third)), last: mean(loaded.slice(-third)) };
  }
}
