/**
 * What an operation runs with: the run, whether it shares its moment with others, and the
 * helpers that resolve its targets.
 */
import { maybeLive, takesOf, type Book } from './books.js';
import { named, type Answer } from './client.js';
import type { Run } from './state.js';

export interface Ctx {
  run: Run;
  /** Fired together with other operations: no prediction, and a status may move under it. */
  together: boolean;
  /** Coupons whose status an operation of this moment may change. */
  moving: Set<number>;
}

export const bookOf = (run: Run, c: number): Book => run.books[c % run.books.length] as Book;

export const userAt = (run: Run, u: number): string => run.users[u % run.users.length] as string;

/**
 * The user of a use or hold: on an issued coupon, `holder` picks among users who may hold an
 * issued coupon (so uses are not all NOT_ISSUED), else any user.
 */
export function userFor(run: Run, book: Book, u: number, holder: boolean): string {
  if (holder && book.issued) {
    const holders = [...new Set(takesOf(book, 'issue', (t) => maybeLive(t, run.now)).map((t) => t.user))].sort();
    if (holders.length > 0) return holders[u % holders.length] as string;
  }
  return userAt(run, u);
}

/** One line of the run's trace (printed with a failure). */
export function trace(run: Run, line: string, answer?: Answer): void {
  const text = answer ? `${line} → ${named(answer)}${answer.replayed ? ' (replayed)' : ''}` : line;
  run.trace.push(`[${run.commandNo} +${Date.now() - run.commandStarted}ms] ${text}`);
  if (run.trace.length > 400) run.trace.splice(0, run.trace.length - 400);
}
