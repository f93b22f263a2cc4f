/**
 * A WebSocket→TCP proxy so the Neon serverless driver can reach a plain PostgreSQL (dev/test
 * only, never bundled into the Worker). Neon's own endpoints speak this protocol: one WebSocket
 * per Postgres connection, the Postgres wire protocol carried raw inside binary frames, the
 * target named by `?address=host:port`. The driver is pointed at it with `wsProxy`
 * (see `src/adapters/postgres/neon.ts`).
 *
 * It listens on this machine, so any web page the developer opens could reach it: a proxy that
 * relays to any loopback port hands a page the private Redis. So an upgrade is refused (403,
 * before anything is relayed) unless it carries no `Origin` (the Neon driver in workerd and Node
 * sends none) or the proxy's own, has this start's random secret as its first path segment
 * (`/<secret>/v1?address=…`, compared in constant time), and names a target on the list the
 * proxy was started with (the PostgreSQL it is for).
 *
 * It also serves Neon's HTTP query endpoint (`POST /<secret>/sql`, see `sql-over-http.ts`) under
 * the same rules, for the driver's one-shot queries: the Worker keeps the WebSocket only for
 * interactive transactions.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, isIP, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { sqlOverHttp } from './sql-over-http.js';

export interface NeonProxyOptions {
  /** Port to listen on; 0 or unset picks a free one. */
  port?: number;
  /** Interface to listen on (default `127.0.0.1`). */
  host?: string;
  /**
   * The only targets a client may name, as `host:port` exactly as the driver writes them (from
   * the database URL: see {@link targetOf}). Nothing else is ever connected to.
   */
  targets: string[];
  /** Connections the HTTP endpoint keeps per database (default 10; the dev PGlite gets fewer). */
  httpPoolMax?: number;
  /** An idle HTTP-pool connection is closed after this long (default 10 s). */
  httpIdleMs?: number;
}

export interface NeonProxy {
  /** `ws://host:port`, without the secret. */
  url: string;
  /** What the driver's `wsProxy` setting (the Worker's `NEON_WS_PROXY`) wants: `host:port/<secret>`. */
  wsProxy: string;
  /** The HTTP query endpoint, `http://host:port/<secret>/sql` (what `neonConfig.fetchEndpoint` points at). */
  fetchEndpoint: string;
  /** Postgres connections the HTTP endpoint's pools hold open right now. */
  httpConnections(): number;
  /**
   * What clients opened since the start: HTTP queries (each its own request to `/sql`, as each
   * is its own connection to Neon's proxy) and WebSockets (each a Postgres session).
   */
  stats(): { queries: number; webSockets: number };
  /** This start's secret (43 base64url characters), the first path segment of every upgrade. */
  secret: string;
  port: number;
  close(): Promise<void>;
}

/** Above this many bytes queued towards the client, stop reading from Postgres until it drains. */
const HIGH_WATER = 1 << 20;
/** How long a target gets to close after our FIN before the socket is destroyed. */
const LINGER_MS = 2_000;

/** `host:port` of a PostgreSQL URL as the Neon driver names it in `?address=` (default port 5432). */
export function targetOf(databaseUrl: string): string {
  const u = new URL(databaseUrl);
  return `${u.hostname.replace(/^\[(.*)\]$/, '$1')}:${u.port || 5432}`;
}

/** Compares in constant time (hashes first, so neither the length nor a prefix leaks). */
function sameSecret(given: string, secret: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(secret));
}

/** Parses `host:port` (IPv6 with or without brackets: the driver writes `${host}:${port}`). */
export function parseAddress(value: string | null): { host: string; port: number } | null {
  if (!value) return null;
  const colon = value.lastIndexOf(':');
  if (colon <= 0) return null;
  const host = value.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(value.slice(colon + 1));
  if (!host || !Number.isInteger(port) || port < 1 || port > 65_535) return null;
  return { host, port };
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Answers an upgrade request with a plain HTTP error: the client sees why, nothing is relayed. */
function refuse(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** Pipes one WebSocket to one new TCP connection until either side closes. */
function bridge(ws: WebSocket, target: { host: string; port: number }, open: Set<Socket>): void {
  const tcp = connect({ host: target.host, port: target.port });
  tcp.setNoDelay(true);
  open.add(tcp);

  // The driver sends its startup message as soon as the WebSocket opens, usually before the
  // TCP handshake with Postgres has finished: keep those bytes, in order, until it has.
  let pending: Buffer[] | null = [];
  tcp.once('connect', () => {
    for (const chunk of pending ?? []) tcp.write(chunk);
    pending = null;
  });

  ws.on('message', (data) => {
    const chunk = toBuffer(data);
    if (pending) pending.push(chunk);
    else if (!tcp.write(chunk)) ws.pause();
  });
  tcp.on('drain', () => ws.resume());

  tcp.on('data', (chunk: Buffer) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(chunk, { binary: true }, () => {
      if (tcp.isPaused() && ws.bufferedAmount < HIGH_WATER) tcp.resume();
    });
    if (ws.bufferedAmount >= HIGH_WATER) tcp.pause();
  });

  // Errors are followed by `close` on either side; closing the other side is all there is to do.
  tcp.on('error', () => {});
  tcp.on('close', () => {
    open.delete(tcp);
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
  });
  ws.on('error', () => tcp.destroy());
  ws.on('close', () => {
    if (tcp.destroyed) return;
    if (pending) {
      tcp.destroy();
      return;
    }
    // end() flushes what the client sent last (its Terminate message) before the FIN; the
    // timer covers a target that never closes its side.
    tcp.end();
    setTimeout(() => tcp.destroy(), LINGER_MS).unref();
  });
}

/** Starts the proxy; resolves once it listens. */
export async function startNeonProxy(options: NeonProxyOptions): Promise<NeonProxy> {
  const host = options.host ?? '127.0.0.1';
  const allowed = new Set(options.targets.map((t) => t.toLowerCase().replace(/^\[(.*)\](:\d+)$/, '$1$2')));
  const secret = randomBytes(32).toString('base64url');
  const open = new Set<Socket>();
  const wss = new WebSocketServer({ noServer: true });
  const sql = sqlOverHttp({ allowed: (target) => allowed.has(target), poolMax: options.httpPoolMax, idleMs: options.httpIdleMs });
  /** The origins a page served by the proxy itself would have (it serves none, but they are no threat). */
  let ownOrigins = new Set<string>();
  /** Why a request may not go further (the same rules for an upgrade and a query), or null. */
  const gate = (req: IncomingMessage): { status: number; reason: string; rest: string; url: URL } | { status: null; rest: string; url: URL } => {
    const url = new URL(req.url ?? '/', 'http://proxy.invalid');
    const [, given = '', ...rest] = url.pathname.split('/');
    const origin = req.headers.origin;
    if (origin !== undefined && !ownOrigins.has(origin.toLowerCase())) return { status: 403, reason: 'Forbidden', rest: '', url };
    if (!sameSecret(given, secret)) return { status: 403, reason: 'Forbidden', rest: '', url };
    return { status: null, rest: rest.join('/'), url };
  };
  const counts = { queries: 0, webSockets: 0 };
  const server = createServer((req, res) => {
    const checked = gate(req);
    if (checked.status === null && checked.rest === 'sql') {
      counts.queries += 1;
      return sql.handle(req, res);
    }
    req.resume();
    if (checked.status !== null) return void res.writeHead(checked.status, { 'content-type': 'text/plain' }).end(`${checked.reason}\n`);
    res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket upgrade required\n');
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const checked = gate(req);
    if (checked.status !== null) return refuse(socket, checked.status, checked.reason);
    if (checked.rest !== 'v1') return refuse(socket, 404, 'Not Found');
    const target = parseAddress(checked.url.searchParams.get('address'));
    if (!target) return refuse(socket, 400, 'Bad Request');
    if (!allowed.has(`${target.host.toLowerCase()}:${target.port}`)) return refuse(socket, 403, 'Forbidden');
    counts.webSockets += 1;
    wss.handleUpgrade(req, socket, head, (ws) => bridge(ws, target, open));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = isIP(host) === 6 ? `[${host}]` : host;
  ownOrigins = new Set([urlHost, 'localhost', '127.0.0.1', '[::1]'].map((h) => `http://${h}:${port}`.toLowerCase()));

  return {
    url: `ws://${urlHost}:${port}`,
    wsProxy: `${urlHost}:${port}/${secret}`,
    fetchEndpoint: `http://${urlHost}:${port}/${secret}/sql`,
    httpConnections: () => sql.openConnections(),
    stats: () => ({ ...counts }),
    secret,
    port,
    close: async () => {
      await sql.close();
      for (const ws of wss.clients) ws.terminate();
      for (const tcp of open) tcp.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
