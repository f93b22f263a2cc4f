/**
 * Deadlines on the gauge port: a store that is down or hangs costs a caller a bounded wait and
 * a typed `StoreUnavailable`, never a hang and never a raw transport error. Every runtime wraps
 * its gauge with `withDeadline` (`src/node/host.ts`, `src/worker.ts`).
 *
 * An abandoned call may still run to its end in the store. That is safe because every gauge
 * operation is idempotent (takes by idempotency key, restores and commits by operation id,
 * adjusts by their id, loads only if absent): the client retries with the same key and gets
 * the first outcome. The transport should also give up (`redisClient`'s `timeoutMs`), so a hung
 * request does not keep its socket.
 */
import { StoreUnavailable } from './errors.js';
import type { GaugePort, LedgerEvent } from './gauge.js';

/**
 * 300 ms for a take, restore or commit: Upstash answers a Worker in a few ms at p50 and a few
 * tens of ms at p99 (same region), and the Node host measured a 142 ms end-to-end p99 at 200
 * connections in flight (README, benchmark). 300 ms holds that p99 twice over, or a failed
 * attempt, the client's 20 ms backoff and a second attempt — and is still short enough that a
 * shopper sees a fast 503 and retries instead of watching a spinner.
 */
export const DEFAULT_TAKE_DEADLINE_MS = 300;
/**
 * 5 s for everything else (load, policy, read, adjust, holds, drain, drop, ping): admin and
 * maintenance calls carry more data (a drain batch is 500 events, a drop scans 1,000 keys a
 * step) and nobody waits on them at checkout, but an admin page or a cron tick must not hang.
 */
export const DEFAULT_STORE_DEADLINE_MS = 5_000;

export interface DeadlineOptions {
  /** Deadline of the hot path: take, restore, commit (default 300 ms). */
  takeMs?: number;
  /** Deadline of every other gauge call (default 5 s). */
  adminMs?: number;
}

/** The calls a shopper waits on. */
const HOT_PATH: ReadonlySet<string> = new Set(['take', 'restore', 'commit']);

/**
 * Runs `fn` after the I/O that is already waiting: a deadline that expires while the answer
 * sits in a socket buffer (the event loop was busy) is not a timeout.
 */
const afterPendingIo: (fn: () => void) => void =
  typeof setImmediate === 'function' ? (fn) => void setImmediate(fn) : (fn) => void setTimeout(fn, 0);

const unavailable = (operation: string, error: unknown) =>
  error instanceof StoreUnavailable ? error : new StoreUnavailable({ store: 'gauge', operation, cause: error });

/** Starts `run`, turning a synchronous throw into a rejection. */
const attempt = <T>(run: () => Promise<T>): Promise<T> => new Promise<T>((resolve) => resolve(run()));

/** A call that settles within `ms`, else rejects with `StoreUnavailable`; any failure of the store is one too. */
function within<T>(operation: string, ms: number, run: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(
      () =>
        afterPendingIo(() => {
          if (settled) return;
          settled = true;
          reject(new StoreUnavailable({ store: 'gauge', operation, deadlineMs: ms }));
        }),
      ms,
    );
    attempt(run).then(
      (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(unavailable(operation, error));
      },
    );
  });
}

/** What the caller's `write` failed with, carried through the gauge unchanged. */
class WriteFailed {
  constructor(readonly error: unknown) {}
}

/**
 * A drain whose deadline counts the gauge's time only: the clock stops while `write` (the
 * durable store, bounded by its own timeouts) runs, so a long ledger drains batch by batch as
 * long as each gauge step answers in time. A failed `write` is the durable store's failure and
 * passes through as it is; once the deadline has passed, `write` refuses, so an abandoned drain
 * stops before it moves (and forgets) another batch.
 */
function drainWithin<T>(ms: number, write: (events: LedgerEvent[]) => Promise<void>, drain: (write: (events: LedgerEvent[]) => Promise<void>) => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
    };
    const arm = () => {
      timer = setTimeout(() => afterPendingIo(() => fail(new StoreUnavailable({ store: 'gauge', operation: 'drain', deadlineMs: ms }))), ms);
    };
    const timedWrite = async (events: LedgerEvent[]) => {
      if (settled) throw new Error('the drain was abandoned at its deadline');
      clearTimeout(timer);
      try {
        await write(events);
      } catch (error) {
        throw new WriteFailed(error);
      } finally {
        if (!settled) arm();
      }
    };
    arm();
    attempt(() => drain(timedWrite)).then(
      (moved) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(moved);
      },
      (error: unknown) => fail(error instanceof WriteFailed ? error.error : unavailable('drain', error)),
    );
  });
}

/**
 * The gauge with a deadline on every call: `takeMs` on the hot path (take, restore, commit),
 * `adminMs` on every other method — also on methods the port gains later, which is why this is
 * a proxy over the port rather than a class that lists today's methods. Rejections are always
 * `StoreUnavailable` (the store's own error as its `cause`), except a failed `write` of `drain`.
 */
export function withDeadline(gauge: GaugePort, options: DeadlineOptions = {}): GaugePort {
  const takeMs = options.takeMs ?? DEFAULT_TAKE_DEADLINE_MS;
  const adminMs = options.adminMs ?? DEFAULT_STORE_DEADLINE_MS;
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(gauge, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      let fn = wrapped.get(property);
      if (fn === undefined) {
        const operation = String(property);
        const method = value as (...args: unknown[]) => Promise<unknown>;
        // A drain's deadline stops while its `write` runs (an elected drainer's round as well).
        fn =
          operation === 'drain' || operation === 'drainElected'
            ? (prefix: string, write: (events: LedgerEvent[]) => Promise<void>, ...rest: unknown[]) =>
                drainWithin(adminMs, write, (timedWrite) => method.call(target, prefix, timedWrite, ...rest))
            : (...args: unknown[]) => within(operation, HOT_PATH.has(operation) ? takeMs : adminMs, () => method.apply(target, args));
        wrapped.set(property, fn);
      }
      return fn;
    },
  });
}
