/**
 * "No false sell-out", judged on what clients saw: a take that fits in what is left must not
 * be refused, whatever else is in flight. Counts cannot show it (a flash sale with more demand
 * than stock sells out either way); the order of the successes can. With takes only (no
 * restores) the stock only falls, so every success's returned remain places it in the one
 * order the gauge took them, and a refusal is legal only if the stock was below its size at some
 * instant between its send and its answer.
 */

/** One take as its client saw it. `sent` and `answered` come from one counter shared by all clients. */
export interface ObservedTake {
  /** Units asked for. */
  n: number;
  sent: number;
  answered: number;
  /** The remain it answered with when it succeeded; `null` when it was refused for want of stock. */
  remain: number | null;
}

/** Records takes run by concurrent clients, in the order they were sent and answered. */
export class TakeLog {
  readonly takes: ObservedTake[] = [];
  private tick = 0;

  /** Runs one take; `outcome` says what it got: the remain after it, or `null` for a shortfall. */
  async run<T>(n: number, take: () => Promise<T>, outcome: (result: T) => number | null): Promise<T> {
    const sent = (this.tick += 1);
    const result = await take();
    this.takes.push({ n, sent, answered: (this.tick += 1), remain: outcome(result) });
    return result;
  }
}

/**
 * What in a takes-only history breaks "no oversell" or "no false sell-out" (empty when none):
 *
 * - the successes, by falling remain, must go down from `total` by exactly their sizes to
 *   `finalRemain` (no unit twice, none lost, no two alike), and one that answered before
 *   another was sent must come first;
 * - a refusal of `n` was decided between its send and its answer, so only the successes sent
 *   before its answer can have come before it: the stock then was at least `total` minus their
 *   sizes. And it came before every success sent after its answer, so the stock was at least
 *   what each of those found (its remain plus its size), and at least the final remain. Each of
 *   these bounds must be below `n`.
 */
export function sellOutViolations(total: number, takes: ObservedTake[], finalRemain: number): string[] {
  const violations: string[] = [];
  const successes = takes.filter((t) => t.remain !== null).sort((a, b) => (b.remain ?? 0) - (a.remain ?? 0));
  let left = total;
  for (const s of successes) {
    if (s.remain !== left - s.n) violations.push(`a take of ${s.n} answered remain ${s.remain} where ${left} − ${s.n} = ${left - s.n} was due`);
    left = s.remain ?? left;
  }
  if (left !== finalRemain) violations.push(`the successes leave ${left}, the gauge says ${finalRemain}`);
  successes.forEach((s, i) => {
    const overtaken = successes.slice(0, i).find((earlier) => earlier.sent > s.answered);
    if (overtaken) violations.push(`a take answered at ${s.answered} (remain ${s.remain}) is ordered after one sent at ${overtaken.sent}`);
  });
  for (const r of takes.filter((t) => t.remain === null)) {
    const later = successes.filter((s) => s.sent > r.answered).map((s) => (s.remain ?? 0) + s.n);
    const before = successes.filter((s) => s.sent < r.answered).reduce((sum, s) => sum + s.n, 0);
    const atLeast = Math.max(finalRemain, total - before, ...later);
    if (atLeast >= r.n) violations.push(`a take of ${r.n} (sent ${r.sent}, answered ${r.answered}) was refused while at least ${atLeast} were left`);
  }
  return violations;
}

/** How many refusals a later success could have proved false (the check had something to judge). */
export const judgedRefusals = (takes: ObservedTake[]): number =>
  takes.filter((r) => r.remain === null && takes.some((s) => s.remain !== null && s.sent > r.answered)).length;
