/**
 * `npm run check:deploy [-- --env-file <file>]`: checks the values a deploy will run with — by
 * default those in `.dev.vars` (the ones you `wrangler secret put`), else the environment —
 * before `wrangler deploy`. One line per check; exits 1 when anything must be fixed.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { readDevVars } from '../local/dev-vars.js';
import { checkDeploy } from './checks.js';

const MARK = { ok: '✓', problem: '✗', note: '!' } as const;

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const at = args.indexOf('--env-file');
  if (args.some((a, i) => a !== '--env-file' && args[i - 1] !== '--env-file') || (at >= 0 && !args[at + 1])) {
    console.error('usage: npm run check:deploy [-- --env-file <file>]');
    return 2;
  }
  const file = at >= 0 ? resolve(args[at + 1] ?? '') : resolve('.dev.vars');
  if (at >= 0 && !existsSync(file)) {
    console.error(`check:deploy: ${file} does not exist`);
    return 2;
  }
  const fromFile = existsSync(file);
  const vars: Record<string, string | undefined> = fromFile ? readDevVars(file) : { ...process.env };
  console.log(`check:deploy: checking ${fromFile ? file : 'the environment (no .dev.vars)'}`);
  const findings = await checkDeploy(vars);
  for (const f of findings) console.log(`${MARK[f.level]} ${f.line}`);
  const problems = findings.filter((f) => f.level === 'problem').length;
  console.log(problems === 0 ? 'check:deploy: ready to deploy' : `check:deploy: ${problems} to fix before \`wrangler deploy\``);
  return problems === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`check:deploy: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  },
);
