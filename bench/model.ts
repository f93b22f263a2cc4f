/**
 * What every phase hands the report: rows of one table, and the correctness checks the run
 * exits on. Checks are about counts only; timings are reported, never asserted (CI machines
 * differ, counts do not).
 */
import { int } from './progress.js';

export type Section = 'raw limit' | 'gauge layer' | 'end to end' | 'sold out' | 'isolates' | 'scaling' | 'memory';

/** Latency percentiles in milliseconds. */
export interface Latency {
  p50: number;
  p95: number;
  p99: number;
}

export interface Row {
  /** Stable name the targets look rows up by. */
  id: string;
  section: Section;
  what: string;
  /** Requests in flight (connections, or workers of a pool). */
  concurrency: number | null;
  perSecond: number | null;
  latency: Latency | null;
  /** Bytes, for memory rows. */
  bytes?: number;
  /** Microseconds Redis itself spent per take, for scaling rows. */
  redisMicros?: number;
  /** Redis scripts (EVALSHA, EVAL) per request, for the sold-out rows. */
  scriptsPerRequest?: number;
  /** Counts and checks, in words. */
  detail: string;
  /** Many-isolate rows: N, Redis commands sent per take, Neon connections opened per second. */
  isolates?: { n: number; commandsPerTake: number; connectionsPerSecond: number };
}

/** Failed correctness checks of the run; any one makes it exit non-zero. */
export class Checks {
  readonly failures: string[] = [];

  /** Records `message` unless `ok`; returns `ok`. */
  expect(ok: boolean, message: string): boolean {
    if (!ok) this.failures.push(message);
    return ok;
  }

  /** Expects `actual === expected` for a named count. */
  equal(name: string, actual: number, expected: number): boolean {
    return this.expect(actual === expected, `${name}: ${int(actual)}, expected ${int(expected)}`);
  }
}
