/**
 * The real `npm start` process (`src/node.ts`) for tests that start the Node host as an operator
 * would: its own environment, its own port, stopped with SIGTERM.
 *
 * Run as `node --import tsx src/node.ts` (as the benchmark runs it), one process: the `tsx` CLI
 * that `npm start` uses relays SIGTERM to a child and, when the child takes more than ~60 ms to
 * acknowledge it (a loaded 2-core machine), SIGKILLs it and exits 143 — the wrapper's doing,
 * not the service's, which then never gets to shut down cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface StartedHost {
  child: ChildProcess;
  url: string;
  admin: string;
  client: string;
  /** Everything the process printed so far (stdout and stderr). */
  output: () => string;
}

/**
 * Starts `npm start`'s entry and waits for its last start-up line; the tokens come from the
 * environment or `DATA_DIR/tokens.json`, never from the output. Tokens of the test runner's own
 * environment are cleared: only `env` says where they come from.
 */
export async function startHost(env: Record<string, string>): Promise<StartedHost> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/node.ts'], {
    env: { ...process.env, ADMIN_API_TOKEN: '', CLIENT_API_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 120_000;
  while (!/^ {2}tokens: .*\n/m.test(output)) {
    if (child.exitCode !== null) throw new Error(`host exited: ${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`host did not start: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = /listening on (\S+)/.exec(output)?.[1] ?? '';
  const kept: { admin?: string; client?: string } =
    env.ADMIN_API_TOKEN && env.CLIENT_API_TOKEN ? {} : JSON.parse(await readFile(join(env.DATA_DIR ?? '.data', 'tokens.json'), 'utf8'));
  const admin = env.ADMIN_API_TOKEN || kept.admin || '';
  const client = env.CLIENT_API_TOKEN || kept.client || '';
  return { child, url, admin, client, output: () => output };
}

/** Sends SIGTERM and resolves with the exit code. */
export async function stopHost(started: StartedHost): Promise<number | null> {
  if (started.child.exitCode !== null) return started.child.exitCode;
  const exited = new Promise<number | null>((resolve) => started.child.once('exit', (code) => resolve(code)));
  started.child.kill('SIGTERM');
  return exited;
}
