/**
 * A private redis-server for one test file: a test that flushes, kills or counts the writes of
 * Redis must not do it to the shared server of the global setup (other files use it at the
 * same time). Started on a free port, in its own directory, stopped by the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, portOpen } from '../../scripts/local/servers.js';
import { connect, type RespClient } from '../../scripts/upstash-rest/resp.js';

export interface PrivateRedisOptions {
  /** Write every command to an append-only file before answering (`appendfsync always`). */
  aof?: boolean;
}

export interface PrivateRedis {
  url: string;
  port: number;
  /** A RESP connection to it (for commands the gauge never sends: INFO, FLUSHALL, DBSIZE). */
  resp: RespClient;
  /**
   * Writes Redis has made since it started: its dirty counter, which every command that
   * changes the dataset moves (a no-op write too), read from `INFO persistence`.
   */
  writes(): Promise<number>;
  /** `kill -9`: no shutdown, nothing saved but what the AOF already holds. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory (reloading the AOF when there is one). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'cs-redis-private-'));
  const port = await freePort();
  const persistence = options.aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  let child: ChildProcess | null = null;
  const start = async () => {
    const started = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...persistence], { stdio: 'ignore' });
    child = started;
    const deadline = Date.now() + 10_000;
    while (!(await portOpen('127.0.0.1', port))) {
      if (started.exitCode !== null) throw new Error(`redis-server exited with ${started.exitCode}`);
      if (Date.now() > deadline) throw new Error('private redis-server did not start within 10 s');
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const halt = async (signal: NodeJS.Signals) => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((r) => running.once('exit', r));
    running.kill(signal);
    await exited;
  };
  await start();
  const url = `redis://127.0.0.1:${port}`;
  const resp = connect(url);
  return {
    url,
    port,
    resp,
    writes: async () => {
      const info = String(await resp.send(['INFO', 'persistence']));
      const match = /rdb_changes_since_last_save:(\d+)/.exec(info);
      if (!match) throw new Error(`no dirty counter in INFO: ${info.slice(0, 200)}`);
      return Number(match[1]);
    },
    kill: () => halt('SIGKILL'),
    restart: start,
    stop: async () => {
      resp.close();
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
