/**
 * A local Upstash-compatible REST endpoint over a real redis-server (dev/test tool; never in
 * the Worker bundle): `POST /` (one command), `/pipeline`, `/multi-exec`, bearer token,
 * `Upstash-Encoding: base64` answers in RESP2 shapes, so `@upstash/redis` works unmodified.
 * It counts requests and commands (one take must be one of each) and can inject faults.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, RespError, type RespValue } from './resp.js';

export interface RestStats {
  requests: number;
  commands: number;
  byPath: Record<string, number>;
  /** Per request, its commands by name (`EVALSHA <sha>` for scripts), oldest first. */
  log: string[][];
}

/** What a command is, for the log: its name, and the script's hash for EVALSHA. */
const describeCommand = (command: string[]) => {
  const name = (command[0] ?? '').toUpperCase();
  return name === 'EVALSHA' || name === 'EVAL' ? `${name} ${name === 'EVALSHA' ? command[1] : '<script>'}` : name;
};

/**
 * Faults for reliability tests: `500-before` answers 500 without running the commands;
 * `500-after` runs them, then answers 500 (an unknown outcome for the client); `timeout-after`
 * runs them, then drops the connection after `ms`.
 */
export type FaultMode = '500-before' | '500-after' | 'timeout-after';

export interface UpstashRest {
  url: string;
  port: number;
  stats: RestStats;
  resetStats(): void;
  faults: { failNext(count: number, mode: FaultMode, ms?: number): void };
  close(): Promise<void>;
}

export interface UpstashRestOptions {
  redisUrl: string;
  token: string;
  port?: number;
  host?: string;
}

type Json = string | number | null | Json[];

/** RESP value → JSON; strings as base64 of their bytes when asked. */
function toJson(value: RespValue, base64: boolean): Json {
  if (value === null || typeof value === 'number') return value;
  if (Array.isArray(value)) return value.map((v) => toJson(v, base64));
  if (value instanceof RespError) return value.message;
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  return base64 ? bytes.toString('base64') : bytes.toString('utf8');
}

const entry = (value: RespValue, base64: boolean) =>
  value instanceof RespError ? { error: value.message } : { result: toJson(value, base64) };

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** One command: a non-empty array of strings, numbers or booleans, each stringified. */
function toCommand(value: unknown): string[] | null {
  if (!Array.isArray(value) || value.length === 0) return null;
  const out: string[] = [];
  for (const arg of value) {
    if (typeof arg === 'string' || typeof arg === 'number' || typeof arg === 'boolean') out.push(String(arg));
    else return null;
  }
  return out;
}

/**
 * Commands that change the state of the connection they run on. All REST requests share one
 * connection (a transaction its own), so one of these would leak into everyone else's
 * commands: a MULTI would queue them, a SELECT move them to another database.
 */
const CONNECTION_STATE = new Set(
  'MULTI EXEC DISCARD WATCH UNWATCH SELECT SWAPDB HELLO RESET QUIT AUTH MONITOR SUBSCRIBE PSUBSCRIBE SSUBSCRIBE UNSUBSCRIBE PUNSUBSCRIBE SUNSUBSCRIBE CLIENT'.split(' '),
);

/**
 * Upstash's path style, `/<cmd>/<arg>/…` (GET or POST; a POST body is the last argument).
 * Not used by @upstash/redis, but handy with curl.
 */
function pathCommand(path: string, body: string): string[] | null {
  try {
    const args = path.split('/').slice(1).map(decodeURIComponent);
    return body ? [...args, body] : args;
  } catch {
    return null; // malformed %-escape
  }
}

type Route = '/' | '/pipeline' | '/multi-exec';
type Parsed = { route: Route; commands: string[][] } | { status: number; error: string };

/** The commands a request carries, or why it carries none (answered before Redis sees anything). */
function parseRequest(method: string, path: string, body: string): Parsed {
  const route: Route = path === '/pipeline' || path === '/multi-exec' ? path : '/';
  const json = path === '/' || route !== '/';
  if (method !== 'POST' && (method !== 'GET' || json)) return { status: 405, error: `unsupported: ${method} ${path}` };
  let parsed: unknown;
  if (json) {
    try {
      parsed = JSON.parse(body);
    } catch {
      return { status: 400, error: 'ERR failed to parse JSON body' };
    }
  }
  const raw = route !== '/' ? (Array.isArray(parsed) ? parsed : [null]) : [json ? parsed : pathCommand(path, body)];
  const commands = raw.map(toCommand);
  if (commands.length === 0 || !commands.every((c): c is string[] => c !== null)) {
    return { status: 400, error: 'ERR each command must be a non-empty array of strings, numbers or booleans' };
  }
  const denied = commands.find((c) => CONNECTION_STATE.has((c[0] ?? '').toUpperCase()));
  if (denied) return { status: 400, error: `ERR ${denied[0]} is not supported by this REST endpoint` };
  return { route, commands };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startUpstashRest(options: UpstashRestOptions): Promise<UpstashRest> {
  const redis = connect(options.redisUrl);
  // MULTI … EXEC on its own connection, each written in one go: nothing else may slip between.
  const transactions = connect(options.redisUrl);
  const stats: RestStats = { requests: 0, commands: 0, byPath: {}, log: [] };
  const faults: { mode: FaultMode; ms: number }[] = [];

  const run = async (path: string, commands: string[][]): Promise<RespValue[]> => {
    if (path !== '/multi-exec') return redis.pipeline(commands);
    const replies = await transactions.pipeline([['MULTI'], ...commands, ['EXEC']]);
    const exec = replies[replies.length - 1];
    if (Array.isArray(exec)) return exec;
    const error = exec instanceof RespError ? exec : new RespError('EXECABORT Transaction discarded');
    return commands.map(() => error);
  };

  const server = createServer(async (req, res) => {
    try {
      if (req.headers.authorization !== `Bearer ${options.token}`) return send(res, 401, { error: 'Unauthorized' });
      const parsed = parseRequest(req.method ?? 'GET', (req.url ?? '/').split('?')[0] ?? '/', await readBody(req));
      if ('error' in parsed) return send(res, parsed.status, { error: parsed.error });
      const { route, commands } = parsed;
      stats.requests += 1;
      stats.commands += commands.length;
      stats.byPath[route] = (stats.byPath[route] ?? 0) + 1;
      if (stats.log.length < 10_000) stats.log.push(commands.map(describeCommand));
      const fault = faults.shift();
      if (fault?.mode === '500-before') return send(res, 500, { error: 'injected fault before execution' });
      const replies = await run(route, commands);
      if (fault?.mode === '500-after') return send(res, 500, { error: 'injected fault after execution' });
      if (fault?.mode === 'timeout-after') {
        // The client sees no answer, then a dropped connection: it cannot know the outcome.
        setTimeout(() => res.destroy(), fault.ms);
        return;
      }
      const base64 = String(req.headers['upstash-encoding'] ?? '').toLowerCase() === 'base64';
      if (route === '/') {
        const reply = replies[0] ?? null;
        // The error text stays whole: @upstash/redis looks for NOSCRIPT in it to fall back to EVAL.
        return reply instanceof RespError ? send(res, 400, { error: reply.message }) : send(res, 200, entry(reply, base64));
      }
      return send(res, 200, replies.map((r) => entry(r, base64)));
    } catch (error) {
      send(res, 500, { error: error instanceof Error ? error.message : String(error) });
    }
  });

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    stats,
    resetStats: () => {
      stats.requests = 0;
      stats.commands = 0;
      stats.byPath = {};
      stats.log = [];
    },
    faults: { failNext: (count, mode, ms = 1000) => faults.push(...Array.from({ length: count }, () => ({ mode, ms }))) },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      redis.close();
      transactions.close();
    },
  };
}
