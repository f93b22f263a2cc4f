/**
 * `.dev.vars` as Wrangler reads it: `KEY=VALUE` lines, one pair per line, surrounding quotes
 * stripped, anything else (comments, blank lines) ignored.
 */
import { existsSync, readFileSync } from 'node:fs';

/** The pairs of the file at `path`; empty when there is none. */
export function readDevVars(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  const vars: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m?.[1] && m[2] !== undefined) vars[m[1]] = m[2].replace(/^(['"])(.*)\1$/, '$2');
  }
  return vars;
}
