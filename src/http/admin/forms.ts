/**
 * HTML form fields to service inputs. Every field is checked and every problem reported at
 * once, named by the form field, like the API's `errors[]`. Empty means what `null` means in
 * the API: unlimited stock, no per-user limit, an open window bound.
 */
import { STOCK_ROWS, type Budget, type CouponSpec, type PeriodStock, type StockRowName, type Window } from '../../coupon/coupon.js';
import { fail, ok, type FieldProblem, type Result } from '../../coupon/errors.js';
import { BatchIssueRequestSchema, CouponCreateSchema, IdempotencyHeadersSchema, MAX_COUNT } from '../schemas.js';

/** What `c.req.parseBody()` gives. */
export type FormBody = Record<string, string | File | (string | File)[]>;

/** A text field, trimmed; '' when absent, repeated or a file. */
export function field(form: FormBody, name: string): string {
  const value = form[name];
  return typeof value === 'string' ? value.trim() : '';
}

// `<input type="datetime-local">` sends no zone: the page labels these fields UTC.
const LOCAL_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/;

class FormReader {
  readonly problems: FieldProblem[] = [];

  constructor(private readonly form: FormBody) {}

  /** A whole number in [min, MAX_COUNT]; `null` when empty. */
  count(name: string, min: number): number | null {
    const raw = field(this.form, name);
    if (raw === '') return null;
    const n = /^\d{1,13}$/.test(raw) ? Number(raw) : NaN;
    if (Number.isInteger(n) && n >= min && n <= MAX_COUNT) return n;
    this.problems.push({ path: name, message: `must be a whole number from ${min} to ${MAX_COUNT}` });
    return null;
  }

  /** A UTC instant from a datetime-local field; `null` when empty. */
  instant(name: string): Date | null {
    const raw = field(this.form, name);
    if (raw === '') return null;
    const at = LOCAL_DATETIME.test(raw) ? new Date(`${raw}Z`) : new Date(NaN);
    if (!Number.isNaN(at.getTime())) return at;
    this.problems.push({ path: name, message: 'must be a date and time (YYYY-MM-DDTHH:MM, UTC)' });
    return null;
  }

  /** A budget from `budgetTotal` (minor units) and `budgetCurrency`; `null` when the total is empty. */
  budget(): Budget | null {
    const total = this.count('budgetTotal', 0);
    const currency = field(this.form, 'budgetCurrency').toUpperCase() || 'EUR';
    if (!/^[A-Z]{3}$/.test(currency)) {
      this.problems.push({ path: 'budgetCurrency', message: 'must be an ISO 4217 code such as EUR' });
      return null;
    }
    return total === null ? null : { total, currency };
  }

  /** A period stock from `<prefix>PeriodTotal` and `<prefix>Period`; `null` when the total is empty. */
  periodStock(prefix: 'issue' | 'use'): PeriodStock | null {
    const total = this.count(`${prefix}PeriodTotal`, 0);
    const period = field(this.form, `${prefix}Period`) || 'day';
    if (period !== 'day' && period !== 'week') {
      this.problems.push({ path: `${prefix}Period`, message: 'must be day or week' });
      return null;
    }
    return total === null ? null : { total, period };
  }

  /** A window from two fields; `null` (always open) when both are empty. */
  window(prefix: 'issue' | 'use'): Window | null {
    const start = this.instant(`${prefix}Start`);
    const end = this.instant(`${prefix}End`);
    if (start && end && start.getTime() >= end.getTime()) {
      this.problems.push({ path: `${prefix}End`, message: 'must be after the start' });
    }
    return start || end ? { start, end } : null;
  }
}

const refused = (problems: FieldProblem[]) =>
  fail('VALIDATION_FAILED', problems.map((p) => `${p.path} ${p.message}`).join('; '), problems);

/** The create form as a coupon spec. */
export function couponSpecFrom(form: FormBody): Result<CouponSpec> {
  const read = new FormReader(form);
  const name = field(form, 'name');
  // The API's own rule for names (length, no control characters), so both refuse the same.
  const named = CouponCreateSchema.shape.name.safeParse(name);
  if (!named.success) read.problems.push({ path: 'name', message: named.error.issues.map((i) => i.message).join('; ') });
  const issueTotal = read.count('issueTotal', 0);
  const useTotal = read.count('useTotal', 0);
  const spec: CouponSpec = {
    name,
    issueStock: issueTotal === null ? null : { total: issueTotal },
    useStock: useTotal === null ? null : { total: useTotal },
    budget: read.budget(),
    issuePeriodStock: read.periodStock('issue'),
    usePeriodStock: read.periodStock('use'),
    perUserIssueLimit: read.count('perUserIssueLimit', 1),
    perUserUseLimit: read.count('perUserUseLimit', 1),
    issueWindow: read.window('issue'),
    useWindow: read.window('use'),
  };
  return read.problems.length > 0 ? refused(read.problems) : ok(spec);
}

/** The adjust form: which stock and by how much (a signed, non-zero whole number). */
export function adjustFrom(form: FormBody): Result<{ stock: StockRowName; delta: number }> {
  const problems: FieldProblem[] = [];
  const stock = field(form, 'stock');
  const known = (STOCK_ROWS as readonly string[]).includes(stock);
  if (!known) problems.push({ path: 'stock', message: 'must be issue, use or budget' });
  const raw = field(form, 'delta');
  const delta = /^[+-]?\d{1,13}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(delta) || delta === 0 || Math.abs(delta) > MAX_COUNT) {
    problems.push({ path: 'delta', message: `must be a whole number other than 0, at most ${MAX_COUNT} either way` });
  }
  if (problems.length > 0 || !known) return refused(problems);
  return ok({ stock: stock as StockRowName, delta });
}

/**
 * The bulk-issue form: user ids one per line (commas work too), checked by the API's own rule;
 * and the form's idempotency key, so a form sent twice (a double click, a reload) issues once.
 */
export function bulkIssueFrom(form: FormBody): Result<{ userIds: string[]; key: string | null }> {
  const userIds = field(form, 'userIds')
    .split(/[\r\n,]+/)
    .map((id) => id.trim())
    .filter((id) => id !== '');
  const parsed = BatchIssueRequestSchema.safeParse({ userIds });
  if (!parsed.success) {
    return refused(parsed.error.issues.map((i) => ({ path: ['userIds', ...i.path.slice(1).map((n) => (typeof n === 'number' ? n + 1 : String(n)))].join(' line '), message: i.message })));
  }
  const key = IdempotencyHeadersSchema.shape['idempotency-key'].safeParse(field(form, 'key') || undefined);
  return ok({ userIds: parsed.data.userIds, key: key.success ? (key.data ?? null) : null });
}
