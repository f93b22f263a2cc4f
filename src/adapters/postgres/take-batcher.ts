/**
 * Group commit for the Postgres gauge's takes. One batch per scope is in flight at a time;
 * takes of that scope that arrive meanwhile queue, and the next batch takes them all (up to a
 * cap) into one transaction (`gauge-batch.ts`). Every take is answered only when its batch's
 * transaction has committed; if the batch fails (a commit that failed, a lost connection)
 * every take in it fails, nothing of it was written, and a retry with the same idempotency key
 * runs or replays it. A caller that stops waiting (its deadline) leaves its take in the batch:
 * its outcome is unknown to that caller, as with any store call past its deadline. Two takes with one idempotency key never share a batch:
 * the later one waits for the next, where it replays the first (or runs, if that was refused).
 *
 * The queue is an optimisation, never a source of truth: every batch decides on rows it has
 * locked, so several processes (or several gauges) on one database stay exact.
 */
import type { TakeCommand, TakeResult } from '../../stock/gauge.js';
import type { BatchAnswer } from './gauge-batch.js';

interface Pending {
  cmd: TakeCommand;
  resolve(result: TakeResult): void;
  reject(error: unknown): void;
}

/** Per-commit figures: how many takes a batch carried and how long its transaction took. */
export interface BatchStats {
  batches: number;
  takes: number;
  /** Takes per batch: median and largest. */
  size: { median: number; max: number };
  /** Milliseconds from the batch's start to its commit: median and longest. */
  commitMs: { median: number; max: number };
}

/** Runs one batch of one scope's takes, each answered in arrival order. */
export type RunBatch = (prefix: string, cmds: TakeCommand[]) => Promise<BatchAnswer[]>;

/** Samples kept for the statistics (the latest ones): enough for a median, bounded in memory. */
const SAMPLES = 100_000;

export class TakeBatcher {
  private readonly queues = new Map<string, Pending[]>();
  private readonly sizes: number[] = [];
  private readonly times: number[] = [];
  private batches = 0;
  private takes = 0;

  constructor(
    private readonly run: RunBatch,
    /** Takes per batch at most: bounds a transaction's locks and its statements' parameters. */
    private readonly maxBatch = 256,
  ) {}

  /** Queues `cmd`; resolves with its answer once its batch has committed. */
  take(cmd: TakeCommand): Promise<TakeResult> {
    return new Promise<TakeResult>((resolve, reject) => {
      const queue = this.queues.get(cmd.prefix);
      if (queue) {
        queue.push({ cmd, resolve, reject });
        return;
      }
      this.queues.set(cmd.prefix, [{ cmd, resolve, reject }]);
      void this.drain(cmd.prefix);
    });
  }

  /** The statistics of every batch so far. */
  stats(): BatchStats {
    return { batches: this.batches, takes: this.takes, size: summary(this.sizes), commitMs: summary(this.times) };
  }

  /** Runs batches of the scope until its queue is empty; the queue's presence marks a batch in flight. */
  private async drain(prefix: string): Promise<void> {
    for (;;) {
      // Let the event loop read what has arrived first: PGlite answers a query without a turn of
      // the loop, so without this a batch would start (and end) before the next request is read.
      await nextTurn();
      const queue = this.queues.get(prefix) ?? [];
      if (queue.length === 0) {
        this.queues.delete(prefix);
        return;
      }
      const batch: Pending[] = [];
      const rest: Pending[] = [];
      const keys = new Set<string>();
      for (const pending of queue) {
        if (batch.length < this.maxBatch && !keys.has(pending.cmd.idempotencyKey)) {
          batch.push(pending);
          keys.add(pending.cmd.idempotencyKey);
        } else rest.push(pending);
      }
      // Takes arriving while this batch runs queue behind the ones it left.
      this.queues.set(prefix, rest);
      const started = performance.now();
      try {
        const answers = await this.run(prefix, batch.map((p) => p.cmd));
        this.record(batch.length, performance.now() - started);
        batch.forEach((pending, i) => {
          const answer = answers[i];
          if (answer === undefined) pending.reject(new Error('the batch gave no answer for a take'));
          else if (answer instanceof Error) pending.reject(answer);
          else pending.resolve(answer);
        });
      } catch (error) {
        for (const pending of batch) pending.reject(error);
      }
    }
  }

  private record(size: number, ms: number) {
    // A ring of the latest samples: the oldest is overwritten once it is full.
    const slot = this.batches % SAMPLES;
    this.sizes[slot] = size;
    this.times[slot] = ms;
    this.batches += 1;
    this.takes += size;
  }
}

/** Resolves after pending I/O callbacks have run (`setImmediate` where there is one). */
const nextTurn = () => new Promise<void>((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

function summary(values: number[]): { median: number; max: number } {
  if (values.length === 0) return { median: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)] ?? 0, max: sorted[sorted.length - 1] ?? 0 };
}
