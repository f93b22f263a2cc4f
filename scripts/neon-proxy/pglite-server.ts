/**
 * Zero-config dev database: PGlite (migrated) served over the Postgres wire protocol by
 * `@electric-sql/pglite-socket`, so the Neon driver can reach it through the WebSocket proxy
 * with no PostgreSQL installed. PGlite is one session: the server runs one protocol message
 * at a time across all connections (a connection inside a transaction goes first), which is
 * plenty for one developer and wrong for load — benchmarks and Worker tests use a real server.
 */
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { openEmbedded } from '../../src/adapters/postgres/pglite.js';

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
    db: embedded.client,
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
