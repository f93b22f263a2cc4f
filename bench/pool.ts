/**
 * A bounded, time-boxed worker pool for calls that are not HTTP (gauge adapters): `concurrency`
 * workers each run one call at a time until the time is up, every latency recorded in an HDR
 * histogram (microsecond resolution), so percentiles are exact to 3 significant digits rather
 * than averaged.
 */
import { build } from 'hdr-histogram-js';
import type { Latency } from './model.js';
import { int, ticker } from './progress.js';

export interface PoolResult {
  calls: number;
  /** Calls whose `run` resolved `false` (refused) — the caller says what that means. */
  refused: number;
  /** Calls that threw. */
  errors: number;
  firstError: string | null;
  seconds: number;
  perSecond: number;
  latency: Latency;
}

export interface PoolOptions {
  label: string;
  concurrency: number;
  seconds: number;
  /** Call number `i` (0-based, unique across workers); `false` when refused. */
  run: (i: number) => Promise<boolean>;
}

export async function runPool(options: PoolOptions): Promise<PoolResult> {
  const histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  let next = 0;
  let refused = 0;
  let errors = 0;
  let firstError: string | null = null;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  const stopTicker = ticker(() => `${options.label}: ${int(next)} calls so far`);
  const worker = async () => {
    while (performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      try {
        if (!(await options.run(i))) refused += 1;
      } catch (error) {
        errors += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
      histogram.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    stopTicker();
  }
  const seconds = (performance.now() - started) / 1000;
  const ms = (q: number) => histogram.getValueAtPercentile(q) / 1000;
  const latency = { p50: ms(50), p95: ms(95), p99: ms(99) };
  histogram.destroy();
  return { calls: next, refused, errors, firstError, seconds, perSecond: next / seconds, latency };
}
