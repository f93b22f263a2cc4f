/**
 * Real servers for tests and `npm run dev`: use the one named by the environment, else the machine's local one
 * when it answers, else start a private one on a free port (stopped by `stop()`). Nothing is
 * ever skipped: when no server can be had, the run fails with one clear line.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, chmodSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface RunningServer {
  url: string;
  /** `true` when this process started it. */
  started: boolean;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves when something accepts TCP connections on host:port. */
export function portOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, host, () => done(true));
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms`);
}

async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

function postgresBin(name: string): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = join(root, v, 'bin', name);
    if (existsSync(bin)) return bin;
  }
  return null;
}

/** PostgreSQL refuses to run as root: run its tools as the `postgres` user then. */
function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

/** A PostgreSQL admin URL (database `postgres`): `DATABASE_URL`, the local server, or a private one. */
export async function ensurePostgres(): Promise<RunningServer> {
  const named = process.env.DATABASE_URL;
  if (named) {
    if (!(await postgresAnswers(named))) throw new Error(`PostgreSQL at DATABASE_URL does not answer`);
    return { url: named, started: false, stop: async () => {} };
  }
  const local = 'postgres://postgres@127.0.0.1:5432/postgres';
  if (await postgresAnswers(local)) return { url: local, started: false, stop: async () => {} };
  const initdb = postgresBin('initdb');
  const pgCtl = postgresBin('pg_ctl');
  if (!initdb || !pgCtl) throw new Error('no PostgreSQL answers and none is installed (apt-get install postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'cs-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const port = await freePort();
  const run = (cmd: string, args: string[]) => {
    const [c, a] = asPostgres(cmd, args);
    const result = spawnSync(c, a, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${cmd} failed: ${result.stderr || result.stdout}`);
  };
  run(initdb, ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync']);
  run(pgCtl, ['-D', data, '-l', join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await waitFor(() => postgresAnswers(url), 'private PostgreSQL');
  return {
    url,
    started: true,
    stop: async () => {
      spawnSync(...asPostgres(pgCtl, ['-D', data, '-m', 'immediate', 'stop']));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Redis URL: `REDIS_URL`, or a private `redis-server` on a free port. */
export async function ensureRedis(): Promise<RunningServer> {
  const named = process.env.REDIS_URL;
  if (named) {
    const u = new URL(named);
    if (!(await portOpen(u.hostname, Number(u.port || 6379)))) throw new Error('Redis at REDIS_URL does not answer');
    return { url: named, started: false, stop: async () => {} };
  }
  return privateRedis();
}

/** A private `redis-server` on a free port (no persistence), with `args` added (e.g. `--replicaof`). */
export async function privateRedis(args: string[] = []): Promise<RunningServer & { port: number; signal(name: NodeJS.Signals): void }> {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error('redis-server is not installed (apt-get install redis-server)');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cs-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args], {
    stdio: 'ignore',
  });
  await waitFor(() => portOpen('127.0.0.1', port), 'private redis-server', 10_000);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    started: true,
    signal: (name) => void child.kill(name),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
