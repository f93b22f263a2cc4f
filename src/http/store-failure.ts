/**
 * Which store an error says is down, if any: the HTTP layer answers 503 with a stable code for
 * those (`STOCK_UNAVAILABLE` for the gauges, `SERVICE_UNAVAILABLE` for the database) and 500
 * `INTERNAL` for everything else. Matched by the drivers' stable codes and messages, so this
 * module imports no driver.
 */
import { StoreUnavailable, type StoreName } from '../stock/errors.js';

/** Socket errors of a peer that is down or unreachable (Node's `code`). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
]);

/**
 * SQLSTATEs of a database that cannot serve: class 08 (connection exception), 53 (insufficient
 * resources: too many connections, out of memory, disk full), 57P01–57P04 (shut down, crashed,
 * starting up, database dropped) and 57014 (statement cancelled, e.g. by `statement_timeout`).
 */
const SQLSTATE = /^(08[0-9A-Z]{3}|53[0-9A-Z]{3}|57P0[1-4]|57014)$/;

/**
 * What node-postgres, the Neon driver (a port of it) and PGlite say when the connection is gone
 * or a deadline passed: a client's and a pool's connect timeout, the query timeout, a connection
 * terminated by the peer, a pool or database already closed, a WebSocket that failed. The Neon
 * driver's HTTP query path: a `fetch` that failed or was aborted at its deadline ("Error
 * connecting to database"), and an HTTP 5xx from the endpoint (it could not reach the database;
 * Postgres' own errors are 400s and carry their SQLSTATE).
 */
const DRIVER_MESSAGES =
  /^timeout expired$|timeout exceeded when trying to connect|Connection terminated|Query read timeout|not queryable|Cannot use a pool after calling end|PGlite is closed|WebSocket (connection|error|was closed)|^Error connecting to database|^Server error \(HTTP status 5\d\d\)/i;

/** The error, its causes and, for an AggregateError, its members (bounded). */
function* chain(error: unknown): Generator<unknown> {
  const queue: unknown[] = [error];
  for (let seen = 0; queue.length > 0 && seen < 16; seen++) {
    const e = queue.shift();
    yield e;
    if (e instanceof AggregateError) queue.push(...(e.errors as unknown[]));
    if (e instanceof Error && e.cause !== undefined) queue.push(e.cause);
  }
}

/**
 * `gauge` or `database` when the error (or one of its causes) says that store did not answer;
 * `null` for any other error. Gauge failures always arrive as `StoreUnavailable` (the gauge port
 * is wrapped by `withDeadline`), so a bare transport error is the database's.
 */
export function storeFailure(error: unknown): StoreName | null {
  for (const e of chain(error)) {
    if (e instanceof StoreUnavailable) return e.store;
  }
  for (const e of chain(error)) {
    if (typeof e !== 'object' || e === null) continue;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || SQLSTATE.test(code))) return 'database';
    if (e instanceof Error && DRIVER_MESSAGES.test(e.message)) return 'database';
  }
  return null;
}

/** `true` when the error says a store is down or hung: answer 503, not 500. */
export const isStoreFailure = (error: unknown): boolean => storeFailure(error) !== null;
