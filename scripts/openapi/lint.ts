/**
 * `npm run lint:openapi`: Redocly CLI's `lint` with its recommended rules (`redocly.yaml`) on the
 * OpenAPI document as the app serves it — the app is served on 127.0.0.1 for the run — or, given
 * a URL, on a running service's (`npm run lint:openapi -- http://localhost:8787/openapi.json`).
 * Exits with the linter's code: non-zero on any error. It needs no network: telemetry, update
 * notices and announcements are off.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { serveDocument } from './document.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REDOCLY = fileURLToPath(new URL('../../node_modules/@redocly/cli/bin/cli.js', import.meta.url));

/** What keeps Redocly CLI off the network (also `telemetry: off` in redocly.yaml). */
export const OFFLINE_ENV = {
  REDOCLY_TELEMETRY: 'off',
  REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
  REDOCLY_SUPPRESS_NOTIFICATIONS: 'true',
} as const;

export interface LintRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `redocly lint` on `target` (a URL or a file) with the repository's `redocly.yaml`;
 * `format` is one of Redocly's (`codeframe`, `stylish`, `json`, `summary`, …). `inherit` prints
 * straight to this process's terminal instead of collecting the output.
 */
export function redoclyLint(target: string, options: { format?: string; inherit?: boolean } = {}): Promise<LintRun> {
  const args = [REDOCLY, 'lint', target, '--config', 'redocly.yaml', `--format=${options.format ?? 'codeframe'}`];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...OFFLINE_ENV },
    stdio: options.inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const given = process.argv[2];
  const served = given ? null : await serveDocument();
  try {
    const target = given ?? served?.url ?? '';
    console.log(`linting ${target}`);
    const run = await redoclyLint(target, { inherit: true });
    process.exitCode = run.code ?? 1;
  } finally {
    await served?.close();
  }
}
