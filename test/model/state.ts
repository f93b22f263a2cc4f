/**
 * The state of one run (the books of its coupons, the client's unfinished requests, what was
 * broken) and the counters of the whole search (runs, commands, faults per kind).
 */
import type { Book } from './books.js';
import type { World } from './world.js';

/**
 * Invariant ids. `MODEL_ALLOW=id,id` records those without failing, to look past a known defect
 * for the next one.
 */
export type InvariantId =
  | 'server-error'
  | 'unexpected-answer'
  | 'oversold'
  | 'user-limit'
  | 'period-cap'
  | 'budget'
  | 'used-more-than-issued'
  | 'accepted-while-closed'
  | 'false-refusal'
  | 'false-acceptance'
  | 'refusal-code'
  | 'replay'
  | 'hold-reentrance'
  | 'lost-ack'
  | 'hold-leak'
  | 'phantom-take'
  | 'phantom-restore'
  | 'refused-but-took'
  | 'drift'
  | 'total-mismatch'
  | 'hold-standing'
  | 'archived-books'
  | 'status-mismatch'
  | 'unknown-op'
  | 'slow-answer'
  | 'connection-leak';

export interface Violation {
  id: InvariantId;
  detail: string;
}

const allowed = new Set((process.env.MODEL_ALLOW ?? '').split(',').map((s) => s.trim()).filter(Boolean));

/** A request the client will send again with the same key until it gets a definite answer. */
export interface Pending {
  coupon: number | null;
  what: string;
  /** Sends it once more; `true` when the answer was definite (and recorded). */
  retry(): Promise<boolean>;
}

export class Stats {
  runs = 0;
  commands = 0;
  requests = 0;
  readonly byCommand = new Map<string, number>();
  readonly faults = new Map<string, number>();
  readonly answers = new Map<string, number>();
  readonly violations = new Map<string, number>();
  /** Milliseconds spent per command kind (to keep the search within its time). */
  readonly millis = new Map<string, number>();
  /** The slowest answer per route. */
  readonly slowest = new Map<string, number>();
  unknownAtEnd = 0;
  started = Date.now();

  bump(map: Map<string, number>, key: string, n = 1): void {
    map.set(key, (map.get(key) ?? 0) + n);
  }

  report(label: string): string {
    const obj = (m: Map<string, number>) => Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)));
    return (
      `model[${label}]: ${this.runs} runs, ${this.commands} commands, ${this.requests} requests in ${((Date.now() - this.started) / 1000).toFixed(1)} s; ` +
      `faults ${JSON.stringify(obj(this.faults))}; ops left unknown at the end ${this.unknownAtEnd}; ` +
      `commands ${JSON.stringify(obj(this.byCommand))}; ms per kind ${JSON.stringify(obj(this.millis))}; answers ${JSON.stringify(obj(this.answers))}` +
      `; slowest answer per route (ms) ${JSON.stringify(obj(this.slowest))}` +
      (this.violations.size ? `; violations seen ${JSON.stringify(obj(this.violations))}` : '')
    );
  }
}

export class Run {
  readonly books: Book[] = [];
  readonly pending: Pending[] = [];
  readonly violations: Violation[] = [];
  /** Commands the Postgres link stays cut for (0: up). */
  outageLeft = 0;
  /** What each command did and was answered, printed with a failure. */
  readonly trace: string[] = [];
  /** The number of the command running, and when it started (for the trace). */
  commandNo = 0;
  commandStarted = Date.now();
  private seq = 0;

  constructor(
    readonly world: World,
    readonly stats: Stats,
    readonly users: readonly string[],
    readonly tag: string,
  ) {}

  get now(): number {
    return this.world.clock.now;
  }

  /** A fresh name: idempotency keys, order and owner ids. */
  fresh(kind: string): string {
    this.seq += 1;
    return `${kind}-${this.tag}-${this.seq}`;
  }

  violate(id: InvariantId, detail: string): void {
    this.stats.bump(this.stats.violations, id);
    if (allowed.has(id)) return;
    if (this.violations.length < 30) this.violations.push({ id, detail });
  }

  /** Fails the command with every invariant broken so far. */
  throwIfBroken(): void {
    if (this.violations.length === 0) return;
    const lines = this.violations.map((v) => `  [${v.id}] ${v.detail}`);
    const coupons = this.books.map((b) => `  coupon ${b.index} = ${b.id} ${JSON.stringify(b.plan)}`);
    throw new Error(`invariants broken:\n${lines.join('\n')}\ncoupons:\n${coupons.join('\n')}\ntrace (last commands):\n${this.trace.slice(-80).join('\n')}`);
  }
}
