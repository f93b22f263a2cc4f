/**
 * Everything the benchmark runs against, private to this run and stopped at its end: a
 * redis-server on a free port (so FLUSHALL between phases harms no one), the local Upstash REST
 * endpoint and the Node host, each in its own process — Upstash is a separate service in
 * production, and a load generator sharing the service's event loop would measure itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, portOpen } from '../scripts/local/servers.js';
import { RespClient } from '../scripts/upstash-rest/resp.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Stopper {
  stop(): Promise<void>;
}

/** Stops what was started, newest first, once, also when the run is interrupted. */
export class Stack {
  private readonly started: Stopper[] = [];
  /** A directory for this run's data (PGlite, logs, profiles), removed by `stopAll()`. */
  readonly dir = mkdtempSync(join(tmpdir(), 'cs-bench-'));

  add<T extends Stopper>(thing: T): T {
    this.started.push(thing);
    return thing;
  }

  async stopAll(): Promise<void> {
    for (const thing of this.started.splice(0).reverse()) await thing.stop().catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function waitFor(check: () => Promise<boolean>, what: string, child: ChildProcess | null, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} before it was ready`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} was not ready within ${timeoutMs} ms`);
}

/** SIGTERM, then SIGKILL if it does not exit: a profile is only written on a clean exit. */
function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    child.kill('SIGTERM');
  });
}

/** A TypeScript entry point of the tree at `root` run by Node through tsx, its output kept in `log`. */
function node(script: string, env: Record<string, string>, log: string, nodeArgs: string[] = [], root = ROOT): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...nodeArgs, join(root, script)], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = createWriteStream(log);
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return child;
}

export interface PrivateRedis extends Stopper {
  url: string;
  port: number;
  /** A raw connection for setup, INFO and MEMORY USAGE. */
  resp: RespClient;
}

export async function startRedis(stack: Stack): Promise<PrivateRedis> {
  const port = await freePort();
  // DEBUG HTSTATS tells when Redis has finished growing its hash tables (see scaling.ts);
  // the option exists from Redis 7 on, and older servers refuse unknown options.
  const major = Number(/v=(\d+)/.exec(spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? 0);
  const debug = major >= 7 ? ['--enable-debug-command', 'local'] : [];
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', stack.dir, ...debug], {
    stdio: 'ignore',
  });
  child.once('error', () => {});
  await waitFor(() => portOpen('127.0.0.1', port), 'redis-server', child, 10_000);
  const url = `redis://127.0.0.1:${port}`;
  const resp = new RespClient(new URL(url));
  return stack.add({
    url,
    port,
    resp,
    stop: async () => {
      resp.close();
      await stopChild(child);
    },
  });
}

export interface RestEndpoint extends Stopper {
  url: string;
  token: string;
}

/** The local Upstash-compatible REST endpoint (`scripts/upstash-rest/main.ts`) over `redis`. */
export async function startRest(stack: Stack, redis: PrivateRedis): Promise<RestEndpoint> {
  const port = await freePort();
  const token = `bench-rest-${process.pid}-${Date.now()}`;
  const child = node('scripts/upstash-rest/main.ts', { REDIS_URL: redis.url, UPSTASH_REDIS_REST_TOKEN: token, PORT: String(port) }, join(stack.dir, 'rest.log'));
  await waitFor(() => portOpen('127.0.0.1', port), 'the REST endpoint', child);
  return stack.add({ url: `http://127.0.0.1:${port}`, token, stop: () => stopChild(child) });
}

export interface Service extends Stopper {
  url: string;
  admin: string;
  client: string;
}

export interface ServiceOptions {
  /** Label for logs and profiles. */
  name: string;
  /** Redis gauges through this endpoint; the Postgres gauge when absent. */
  rest?: RestEndpoint;
  /** Redis gauges over RESP (`REDIS_URL`) on this redis-server instead. */
  redisUrl?: string;
  /** The durable store; embedded PGlite in the run's directory when absent. */
  databaseUrl?: string;
  /** Directory under which `<name>/` receives the V8 CPU profiles of the service when it exits. */
  cpuProfDir?: string;
  /** More Node flags for the service (`--trace-gc`, …), for digging into a result. */
  nodeArgs?: string[];
  /** The source tree to run (default this one; a bench may run another revision beside it). */
  root?: string;
  /** More environment for the service (e.g. `SOLD_OUT_MEMO_MS`). */
  env?: Record<string, string>;
}

/** `npm start` (src/node.ts) in its own process, configured through its environment only. */
export async function startService(stack: Stack, options: ServiceOptions): Promise<Service> {
  const port = await freePort();
  const admin = `bench-admin-${process.pid}-${Date.now()}`;
  const client = `bench-client-${process.pid}-${Date.now()}`;
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: stack.dir,
    ADMIN_API_TOKEN: admin,
    CLIENT_API_TOKEN: client,
    // The schedule would sync and archive in the middle of a sale; the bench syncs by hand.
    MAINTENANCE_INTERVAL_SECONDS: '86400',
  };
  if (options.rest) {
    env.UPSTASH_REDIS_REST_URL = options.rest.url;
    env.UPSTASH_REDIS_REST_TOKEN = options.rest.token;
  }
  if (options.redisUrl) env.REDIS_URL = options.redisUrl;
  if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
  Object.assign(env, options.env);
  // One profile per thread (tsx runs its loader in a worker): a folder per service keeps them apart.
  const nodeArgs = [...(options.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', join(options.cpuProfDir, options.name)] : []), ...(options.nodeArgs ?? [])];
  const child = node('src/node.ts', env, join(stack.dir, `${options.name}.log`), nodeArgs, options.root);
  const url = `http://127.0.0.1:${port}`;
  const healthy = async () => {
    try {
      return (await fetch(`${url}/health`)).ok;
    } catch {
      return false;
    }
  };
  await waitFor(healthy, `the service (${options.name})`, child);
  const service = { url, admin, client, stop: () => stopChild(child) };
  stack.add(service);
  return service;
}

export interface DevOptions {
  /** The PostgreSQL the Worker uses (through the Neon proxy `npm run dev` starts). */
  databaseUrl: string;
  /** The redis-server behind the Upstash REST endpoint `npm run dev` starts. */
  redis: PrivateRedis;
  /** Label for its log. */
  name: string;
  /** The source tree to run (default this one). */
  root?: string;
}

/**
 * `npm run dev` (scripts/dev.ts: wrangler dev, the Upstash REST endpoint and the Neon proxy) in
 * its own process group, configured through its environment only, as a developer runs it.
 */
export async function startDev(stack: Stack, options: DevOptions): Promise<Service> {
  const port = await freePort();
  const admin = `bench-admin-${process.pid}-${Date.now()}`;
  const client = `bench-client-${process.pid}-${Date.now()}`;
  const root = options.root ?? ROOT;
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts/dev.ts')], {
    cwd: root,
    // dev.ts starts what `.dev.vars` does not name: the bench expects none in the repository.
    env: { ...process.env, PORT: String(port), DATABASE_URL: options.databaseUrl, REDIS_URL: options.redis.url, DATA_DIR: join(stack.dir, options.name), ADMIN_API_TOKEN: admin, CLIENT_API_TOKEN: client },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own group: wrangler and workerd are stopped with it, never anything else.
    detached: true,
  });
  const out = createWriteStream(join(stack.dir, `${options.name}.log`));
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const url = `http://127.0.0.1:${port}`;
  const healthy = async () => {
    try {
      return (await fetch(`${url}/health`)).ok;
    } catch {
      return false;
    }
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = new Promise((done) => child.once('exit', done));
    // dev.ts passes SIGTERM on to wrangler and stops what it started; the group kill covers a straggler.
    child.kill('SIGTERM');
    const late = setTimeout(() => {
      try {
        process.kill(-(child.pid ?? 0), 'SIGKILL');
      } catch {
        // already gone
      }
    }, 15_000);
    await exited;
    clearTimeout(late);
  };
  const service = { url, admin, client, stop };
  stack.add(service);
  await waitFor(healthy, `npm run dev (${options.name})`, child, 120_000);
  return service;
}
