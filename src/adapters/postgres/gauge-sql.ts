/**
 * Small helpers of the Postgres gauge: how its transactions end and retry, and how gauge keys
 * map to their scope.
 */
import type { Db } from './db.js';

export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** Ends a transaction with an answer that is not a success: everything it wrote rolls back. */
export class Refused<T> extends Error {
  constructor(readonly answer: T) {
    super('refused');
  }
}

/** Deadlock and serialization failure: the transaction did nothing and may simply run again. */
const RETRYABLE = new Set(['40P01', '40001']);

/** The SQLSTATE of a driver error; drizzle wraps the driver's error in `cause`. */
export function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/**
 * Runs `work` in one transaction on `db`. A `Refused` thrown inside rolls back and becomes the
 * answer; a deadlock or serialization failure is retried a few times.
 */
export async function atomically<T>(db: Db, work: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(work);
    } catch (error) {
      if (error instanceof Refused) return error.answer as T;
      if (attempt >= 5 || !RETRYABLE.has(errorCode(error) ?? '')) throw error;
    }
  }
}

/**
 * The scope prefix of a key named `…{tag}:…`: everything up to and including the first `}:`,
 * `''` for a key without a hash tag. `load` has no prefix argument, so this is how a loaded
 * gauge learns its scope; `drop` matches keys by prefix and does not rely on it.
 */
export const prefixOf = (key: string) => {
  const end = key.indexOf('}:');
  return end < 0 ? '' : key.slice(0, end + 2);
};

/** `LIKE` pattern matching keys that start with `prefix` literally (`%`, `_` and `\` escaped). */
export const startsWith = (prefix: string) => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Orders keys the same way in every transaction, so row locks are always taken in one order. */
export const byKey = <T extends { key: string }>(a: T, b: T) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
