/**
 * The failure of a store (the live gauges or the durable database) that did not answer: down,
 * hung, or failed in transport. The outcome of the operation is unknown — it may have run — so
 * the caller answers 503 and the client retries; every operation is idempotent for that reason.
 */
export type StoreName = 'gauge' | 'database';

export interface StoreUnavailableOptions {
  /** Which store failed: `gauge` answers `STOCK_UNAVAILABLE`, `database` `SERVICE_UNAVAILABLE`. */
  store: StoreName;
  /** The operation that failed (a port method name), for the logs. */
  operation: string;
  /** Set when the operation was abandoned at its deadline (ms), unset when the store failed first. */
  deadlineMs?: number;
  /** What the store or its client failed with, for the logs; never shown to a client. */
  cause?: unknown;
}

export class StoreUnavailable extends Error {
  override readonly name = 'StoreUnavailable';
  readonly store: StoreName;
  readonly operation: string;
  readonly deadlineMs: number | undefined;

  constructor(options: StoreUnavailableOptions) {
    const why = options.deadlineMs === undefined ? 'failed' : `did not answer within ${options.deadlineMs} ms`;
    super(`${options.store} ${options.operation} ${why}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.store = options.store;
    this.operation = options.operation;
    this.deadlineMs = options.deadlineMs;
  }

  /** `true` when the store did not answer in time (rather than failing at once). */
  get timedOut(): boolean {
    return this.deadlineMs !== undefined;
  }
}
