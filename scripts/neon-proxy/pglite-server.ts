/**
 * Zero-config dev database: PGlite (migrated) served over the Postgres wire protocol by
 * `@electric-sql/pglite-socket`, so the Neon driver can reach it through the proxy (WebSocket and HTTP)
 * with no PostgreSQL installed. PGlite is one session: the server runs one protocol message
 * at a time across all connections (a connection inside a transaction goes first), which is
 * plenty for one developer and wrong for load — benchmarks and Worker tests use a real server.
 */
import type { Server, Socket } from 'node:net';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { openEmbedded } from '../../src/adapters/postgres/pglite.js';

/** Protocol 3.0, the code of a StartupMessage: the last message without a type byte. */
const PROTOCOL_3 = 196_608;
/** How long a connection that said Terminate gets to read what it was sent before it is destroyed. */
const LINGER_MS = 1_000;

/**
 * PostgreSQL hangs up when a client sends Terminate (`X`); pglite-socket 0.2 does not, it keeps
 * the socket until the client closes it. The Neon driver in workerd relies on the server: it
 * writes Terminate and calls `close()` on its WebSocket, which does not reach the proxy, so
 * every connection a Worker request opened stayed open until pglite-socket's `maxConnections`
 * was reached and every later request failed. This watches each connection's message framing
 * and ends the socket after a Terminate, as PostgreSQL does.
 */
function hangUpOnTerminate(socket: Socket): void {
  let head = Buffer.alloc(0);
  /** Bytes of the current message's body still to come (not kept: only headers matter). */
  let skip = 0;
  /** After the StartupMessage every message starts with a type byte. */
  let typed = false;
  const onData = (chunk: Buffer) => {
    if (skip >= chunk.length) {
      skip -= chunk.length;
      return;
    }
    head = Buffer.concat([head, chunk.subarray(skip)]);
    skip = 0;
    for (;;) {
      // Before it: `int32 length, int32 code` (SSLRequest, CancelRequest, StartupMessage).
      if (head.length < (typed ? 5 : 8)) return;
      const length = typed ? 1 + head.readInt32BE(1) : head.readInt32BE(0);
      if (length < (typed ? 5 : 8)) return void socket.destroy();
      if (typed && head[0] === 0x58) {
        socket.off('data', onData);
        // pglite-socket may still be writing replies; the peer's FIN then closes the socket, the
        // timer covers a peer that never sends one.
        setImmediate(() => socket.end());
        setTimeout(() => socket.destroy(), LINGER_MS).unref();
        return;
      }
      if (!typed && head.readInt32BE(4) === PROTOCOL_3) typed = true;
      if (head.length < length) {
        skip = length - head.length;
        head = Buffer.alloc(0);
        return;
      }
      head = head.subarray(length);
    }
  };
  socket.on('data', onData);
}

/** Extended-protocol messages that leave a query open until the client's Sync (`S`). */
const EXTENDED = new Set(['P', 'B', 'E', 'D', 'C', 'H'].map((c) => c.charCodeAt(0)));

type Pglite = Awaited<ReturnType<typeof openEmbedded>>['client'];

/**
 * pglite-socket runs one message at a time from all connections, keeping to one connection
 * only while PGlite says it is inside a transaction. An extended-protocol query is several
 * messages (Parse, Bind, Execute … Sync): another connection's Parse between them replaces the
 * unnamed statement ("bind message supplies 4 parameters, but prepared statement \"\" requires
 * 18"). This PGlite reports "in a transaction" from a connection's first extended message until
 * its Sync too, so the queue keeps to that connection for the whole query. Its ROLLBACK after a
 * connection that vanished mid-query ends the sequence.
 */
function oneQueryAtATime(db: Pglite): Pglite {
  let open = false;
  return new Proxy(db, {
    get(target, property) {
      if (property === 'isInTransaction') return () => open || target.isInTransaction();
      if (property === 'execProtocolRawStream') {
        return (message: Uint8Array, ...rest: unknown[]) => {
          const type = message[0] ?? 0;
          if (EXTENDED.has(type)) open = true;
          else if (type === 0x53) open = false;
          return (target.execProtocolRawStream as (...args: unknown[]) => unknown)(message, ...rest);
        };
      }
      if (property === 'exec') {
        return (...args: unknown[]) => {
          open = false;
          return (target.exec as (...a: unknown[]) => unknown)(...args);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      // PGlite keeps private fields: its methods must run on the real object.
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * Connections the Neon proxy's HTTP query path should keep to this server (of its 32): PGlite
 * runs one query at a time, so more would only wait.
 */
export const PGLITE_HTTP_POOL = 4;

export interface PgliteServerOptions {
  /** PGlite data directory; unset keeps the database in memory. */
  dataDir?: string;
  /** Port to listen on; 0 or unset picks a free one. */
  port?: number;
  /** Interface to listen on (default `127.0.0.1`). */
  host?: string;
  /** Concurrent connections accepted (default 32; pglite-socket's own default is 1). */
  maxConnections?: number;
}

export interface PgliteServer {
  /** `postgres://postgres:postgres@host:port/postgres`: PGlite trusts every login. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Opens (and migrates) PGlite at `dataDir`, then serves it; resolves once it listens. */
export async function startPgliteServer(options: PgliteServerOptions = {}): Promise<PgliteServer> {
  const embedded = await openEmbedded(options.dataDir);
  const host = options.host ?? '127.0.0.1';
  // A Pool opens several connections (one per concurrent query, one per transaction), so the
  // default of one connection would refuse the second with "Too many connections".
  const server = new PGLiteSocketServer({
    db: oneQueryAtATime(embedded.client),
    host,
    port: options.port ?? 0,
    maxConnections: options.maxConnections ?? 32,
  });
  try {
    await server.start();
  } catch (error) {
    await embedded.close();
    throw error;
  }
  // pglite-socket keeps its net.Server private; without it connections could never be closed.
  const net = (server as unknown as { server?: Server | null }).server;
  if (!net || typeof net.on !== 'function') {
    await server.stop();
    await embedded.close();
    throw new Error('pglite-socket changed: its net.Server is not where pglite-server.ts looks for it');
  }
  net.on('connection', hangUpOnTerminate);
  const port = Number(server.getServerConn().split(':').pop());
  return {
    url: `postgres://postgres:postgres@${host}:${port}/postgres`,
    port,
    close: async () => {
      await server.stop();
      await embedded.close();
    },
  };
}
