/**
 * What a request the route schemas refuse answers: 400 VALIDATION_FAILED listing every problem,
 * except an id of the wrong shape in the path, which names nothing and is a 404 like an id that
 * is not there (ids are checked by the route schema, never by hand in a handler).
 */
import type { Context } from 'hono';
import type { FieldProblem } from '../coupon/errors.js';
import { problem } from './problem.js';
import { ID_PARAMS, type IdParam } from './schemas.js';

interface Refused {
  target: string;
  error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] };
}

const isIdParam = (name: string): name is IdParam => name in ID_PARAMS;

/** The route schemas' hook: `undefined` when the input is valid. */
export function validationHook(result: { success: true } | ({ success: false } & Refused), c: Context): Response | undefined {
  if (result.success) return undefined;
  let issues = result.error.issues;
  if (result.target === 'param') {
    const malformed = new Set(issues.map((issue) => String(issue.path[0])).filter(isIdParam));
    const others = issues.filter((issue) => !isIdParam(String(issue.path[0])));
    // Only ids wrong: the first one in path order is not found. Anything else wrong as well is a
    // 400 about that, as when ids were checked only after validation.
    if (others.length === 0) {
      const name = (Object.keys(ID_PARAMS) as IdParam[]).find((p) => malformed.has(p));
      if (name) return problem(c, 'NOT_FOUND', `${ID_PARAMS[name]} ${c.req.param(name) ?? ''} does not exist`);
    }
    issues = others;
  }
  const errors: FieldProblem[] = issues.map((issue) => ({
    path: [result.target === 'json' ? 'body' : result.target, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
  return problem(c, 'VALIDATION_FAILED', errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors);
}
