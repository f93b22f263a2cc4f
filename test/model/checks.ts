/**
 * Checks made while the run goes on: every answer is one the contract allows, a prediction made
 * on an exact model is met, and after every command no limit is exceeded by the takes the
 * product acknowledged (lower bounds: a take in doubt or a cancel in doubt never counts against
 * the product).
 */
import { dayOf, maybeLive, surelyLive, takesOf, totalRange, type Book, type Take } from './books.js';
import { named, type Answer } from './client.js';
import type { Expected } from './predict.js';
import type { Run } from './state.js';

/** Definite answers each operation may give, besides its success. */
export const ALLOWED: Record<string, readonly string[]> = {
  issue: ['409 SOLD_OUT', '409 USER_LIMIT_REACHED', '409 PERIOD_SOLD_OUT', '409 NOT_ACTIVE'],
  batch: ['409 NOT_ACTIVE'],
  use: ['409 NOT_ISSUED', '409 SOLD_OUT', '409 USER_LIMIT_REACHED', '409 PERIOD_SOLD_OUT', '409 BUDGET_EXHAUSTED', '409 NOT_ACTIVE'],
  hold: ['409 NOT_ISSUED', '409 SOLD_OUT', '409 USER_LIMIT_REACHED', '409 PERIOD_SOLD_OUT', '409 BUDGET_EXHAUSTED', '409 NOT_ACTIVE'],
  commit: ['409 HOLD_EXPIRED', '409 NOT_ACTIVE'],
  release: ['409 ALREADY_USED', '409 NOT_ACTIVE'],
  cancelIssue: ['409 ALREADY_USED', '409 NOT_ACTIVE'],
  cancelUse: ['409 NOT_ACTIVE'],
  replay: ['409 NOT_ACTIVE'],
  // Admin actions on a coupon archived (INVALID_STATE) or being archived (NOT_ACTIVE).
  adjust: ['409 BELOW_ZERO', '409 INVALID_STATE', '409 NOT_ACTIVE'],
  pause: ['409 INVALID_STATE', '409 NOT_ACTIVE'],
  resume: ['409 INVALID_STATE', '409 NOT_ACTIVE'],
  archive: [],
  sync: [],
  rebuild: ['409 INVALID_STATE', '409 NOT_ACTIVE'],
  live: [],
};

/** Notes an answer outside the contract (a definite one: 5xx are the client's to retry). */
export function allowedAnswer(run: Run, op: string, answer: Answer, ok: number, what: string): void {
  if (answer.status === ok) return;
  if ((ALLOWED[op] ?? []).includes(named(answer))) return;
  run.violate(answer.status === 404 ? 'unknown-op' : 'unexpected-answer', `${what}: answered ${named(answer)} ${String(answer.body.detail ?? '')}`.trim());
}

/** Compares a definite answer with what the exact model expected. */
export function comparePrediction(run: Run, what: string, expected: Expected | null, answer: Answer, ok: number): void {
  if (!expected) return;
  const took = answer.status === ok;
  if (expected.ok && !took) run.violate('false-refusal', `${what}: the model expected ${ok}, got ${named(answer)} ${String(answer.body.detail ?? '')}`.trim());
  if (!expected.ok && took) run.violate('false-acceptance', `${what}: the model expected 409 ${expected.code}, got ${ok}`);
  if (!expected.ok && !took && answer.code !== expected.code) run.violate('refusal-code', `${what}: the model expected 409 ${expected.code}, got ${named(answer)}`);
}

/** Whether the coupon surely takes nothing now (paused, archived or past its windows), the status being settled. */
export const surelyClosed = (book: Book, now: number, moving: boolean) =>
  (!moving && (book.status === 'paused' || book.status === 'archived')) || (book.endsAt !== null && now >= book.endsAt);

const countBy = <T>(items: T[], key: (t: T) => string) => {
  const out = new Map<string, number>();
  for (const i of items) out.set(key(i), (out.get(key(i)) ?? 0) + 1);
  return out;
};

/** After a command: the acknowledged takes still in force never exceed a limit. */
export function checkLimits(run: Run, book: Book): void {
  const now = run.now;
  const { plan } = book;
  const name = `coupon ${book.index}`;
  const liveOf = (kind: 'issue' | 'use') => takesOf(book, kind, (t) => surelyLive(t, now));
  const issues = liveOf('issue');
  const uses = liveOf('use');
  const over = (kind: 'issue' | 'use', takes: Take[]) => {
    const range = totalRange(book, kind);
    if (range && takes.length > range.max) run.violate('oversold', `${name}: ${takes.length} ${kind}s in force (${takes.map((t) => t.id).join(', ')}) over a total of at most ${range.max}`);
  };
  over('issue', issues);
  over('use', uses);
  const perUser = (kind: 'issue' | 'use', takes: Take[], limit: number | null) => {
    if (limit === null) return;
    for (const [user, n] of countBy(takes, (t) => t.user)) {
      if (n > limit) run.violate('user-limit', `${name}: ${user} has ${n} ${kind}s in force, over the per-user limit ${limit}`);
    }
  };
  perUser('issue', issues, plan.perUserIssue);
  perUser('use', uses, plan.perUserUse);
  if (plan.issueDayCap !== null) {
    // A take whose answer was lost may have run at an earlier attempt: its day is not known here.
    for (const [day, n] of countBy(issues.filter((t) => !t.doubted), (t) => String(dayOf(t.at)))) {
      if (n > plan.issueDayCap) run.violate('period-cap', `${name}: ${n} issues in force taken on day ${new Date(Number(day) * 86_400_000).toISOString().slice(0, 10)}, over the daily cap ${plan.issueDayCap}`);
    }
  }
  const budget = totalRange(book, 'budget');
  if (budget) {
    const given = uses.reduce((sum, t) => sum + (t.discount ?? 0), 0);
    if (given > budget.max) run.violate('budget', `${name}: discounts in force ${given} over a budget of at most ${budget.max}`);
  }
  if (book.issued) {
    for (const [user, n] of countBy(uses, (t) => t.user)) {
      const could = takesOf(book, 'issue', (t) => t.user === user && maybeLive(t, now)).length + book.doubts.filter((d) => d.kind === 'issue' && d.user === user && d.end !== 'took').length;
      if (n > could) run.violate('used-more-than-issued', `${name}: ${user} has ${n} uses in force but at most ${could} issues`);
    }
  }
}
