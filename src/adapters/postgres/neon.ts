/**
 * Neon serverless Postgres for the Worker: Drizzle over `@neondatabase/serverless` with a
 * `Pool` (WebSockets), because the repositories need interactive transactions and the HTTP
 * driver has none. Runs in workerd and in Node; imports no `node:` module and no `ws`.
 */
import { Client, Pool, type ClientConfig, type WebSocketConstructor } from '@neondatabase/serverless';
import { drizzle } from 'drizzle-orm/neon-serverless';
import type { Db } from './db.js';
import * as schema from './schema.js';

export interface NeonDbOptions {
  /** `postgres://user:password@host:port/db`. */
  databaseUrl: string;
  /**
   * Local development only: `host:port/<secret>` of the WebSocket proxy in front of a plain
   * PostgreSQL (`scripts/neon-proxy`, which prints it and refuses upgrades without the secret).
   * Every connection goes to `<wsProxy>/v1?address=host:port`, so the secret path rides along.
   * A leading `ws://` or `wss://` is dropped: the driver adds the scheme itself. Unset in
   * production, where Neon's endpoint is its own proxy.
   */
  wsProxy?: string;
  /**
   * The proxy speaks plain `ws://` and the server may ask for SCRAM (default: true when
   * `wsProxy` is set). Set false for a TLS proxy in front of Neon itself.
   */
  local?: boolean;
  /** Where there is no global `WebSocket` (Node 20): e.g. the `ws` package's constructor. */
  webSocketConstructor?: WebSocketConstructor;
  /** Most connections the pool opens (default 10). */
  max?: number;
  /**
   * Deadline of each connect (and each wait for a free connection) and of each query, in ms
   * (default 5000): a database that is down or hangs fails the call instead of holding it.
   * Client-side: Neon's pooled endpoint is PgBouncer, which refuses `statement_timeout` as a
   * startup parameter.
   */
  timeoutMs?: number;
}

export interface NeonDb {
  db: Db;
  /** Closes the pool's connections; idempotent. In a Worker: `ctx.waitUntil(neon.end())`. */
  end(): Promise<void>;
}

/**
 * A Neon `Pool` configured per pool, not through the global `neonConfig`: every client the
 * pool creates gets the settings on its own `neonConfig`, so pools with different proxies (a
 * test next to the dev server) do not overwrite each other. Connects lazily, on first query.
 */
export function createNeonPool(options: NeonDbOptions): Pool {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const pool = new Pool({ connectionString: options.databaseUrl, max: options.max ?? 10, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  const proxy = options.wsProxy?.replace(/^wss?:\/\//, '').replace(/\/+$/, '');
  const local = options.local ?? proxy !== undefined;
  const { webSocketConstructor } = options;
  if (proxy !== undefined || local || webSocketConstructor) {
    // The Neon Pool always builds its clients from `pool.Client` (a constructor option would be
    // overwritten by its field initialiser), so a subclass set on the instance is the hook.
    pool.Client = class ConfiguredClient extends Client {
      constructor(config?: string | ClientConfig) {
        super(config);
        const settings = this.neonConfig;
        if (webSocketConstructor) settings.webSocketConstructor = webSocketConstructor;
        if (proxy !== undefined) settings.wsProxy = (host, port) => `${proxy}/v1?address=${host}:${port}`;
        if (local) {
          settings.useSecureWebSocket = false;
          // Pipelining sends the password before the server asks for it: only cleartext
          // password auth survives that, and a plain PostgreSQL asks for SCRAM.
          settings.pipelineConnect = false;
        }
      }
    };
  }
  // An idle client whose socket drops is reported on the pool; unheard, EventEmitter would
  // throw it. The next query simply opens a new connection.
  pool.on('error', (error: Error) => console.error(`neon pool: ${error.message}`));
  return pool;
}

/**
 * The Drizzle handle on a new pool. Cheap to create (no connection until a query), so the
 * Worker makes one per request — a pool's sockets cannot outlive the request that opened
 * them — and ends it after the response.
 */
export function createNeonDb(options: NeonDbOptions): NeonDb {
  const pool = createNeonPool(options);
  const db: Db = drizzle({ client: pool, schema });
  let ended: Promise<void> | undefined;
  return {
    db,
    end: () => (ended ??= pool.end()),
  };
}
