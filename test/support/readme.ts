/**
 * The README's commands, read from the README itself, so a test runs them as written: when the
 * README changes, the test runs the new text (or fails saying what it could not find).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

/** The text of the README section whose `## ` heading starts with `heading`, up to the next `## `. */
export function readmeSection(heading: string): string {
  const readme = readFileSync(`${ROOT}/README.md`, 'utf8');
  const start = readme.indexOf(`\n## ${heading}`);
  if (start < 0) throw new Error(`README has no section "## ${heading}"`);
  const end = readme.indexOf('\n## ', start + 4);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The lines of the section's ```sh blocks, comments (`# …` to the end of a line) removed. */
export function readmeCommands(heading: string): string[] {
  const blocks = [...readmeSection(heading).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  return blocks.flatMap((b) => b.split('\n')).map((line) => line.replace(/\s+#.*$/, '').trim()).filter(Boolean);
}

/** The one command of the deploy section that matches `pattern`. */
export function deployCommand(pattern: RegExp): string {
  const found = readmeCommands('Deploying to Cloudflare Workers').filter((line) => pattern.test(line));
  if (found.length !== 1) throw new Error(`the README's deploy section has ${found.length} commands matching ${pattern}, expected 1`);
  return found[0] ?? '';
}

/**
 * Runs the README's migration command (`DATABASE_URL=… npx drizzle-kit migrate`) with `url` in
 * place of its placeholder, through a shell, from the repository root, as a reader would.
 */
export async function runReadmeMigrate(url: string): Promise<{ command: string; stdout: string; stderr: string }> {
  const written = deployCommand(/npx drizzle-kit migrate/);
  if (!/^DATABASE_URL=\S+ /.test(written)) throw new Error(`the README's migrate command does not start with DATABASE_URL=…: ${written}`);
  const command = written.replace(/^DATABASE_URL=\S+/, `DATABASE_URL='${url.replace(/'/g, `'\\''`)}'`);
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const { stdout, stderr } = await run('sh', ['-c', command], { cwd: ROOT, env, timeout: 120_000 });
  return { command: written, stdout, stderr };
}
