/**
 * Neon serverless Postgres for the Worker: Drizzle over `@neondatabase/serverless`, on two paths.
 * One-shot statements (every read, every single-statement write) go through the driver's HTTP
 * query function: one `fetch` to Neon's `/sql` endpoint, no WebSocket, no Postgres session of
 * their own (Neon pools those connections). Interactive transactions need a session: they run
 * on a WebSocket `Pool`, created on the first `transaction()` of a request and only then.
 * Runs in workerd and in Node; imports no `node:` module and no `ws`.
 */
import { Client, neon, neonConfig, Pool, type ClientConfig, type NeonQueryFunction, type WebSocketConstructor } from '@neondatabase/serverless';
import { drizzle as drizzleHttp } from 'drizzle-orm/neon-http';
import { drizzle } from 'drizzle-orm/neon-serverless';
import type { Db } from './db.js';
import * as schema from './schema.js';

export interface NeonDbOptions {
  /** `postgres://user:password@host:port/db`. */
  databaseUrl: string;
  /**
   * Local development only: `host:port/<secret>` of the proxy in front of a plain PostgreSQL
   * (`scripts/neon-proxy`, which prints it and refuses anything without the secret). Every
   * WebSocket goes to `<wsProxy>/v1?address=host:port` and every HTTP query to
   * `http://<wsProxy>/sql` (`https` when it starts with `wss://`), so the secret path rides along.
   * A leading `ws://` or `wss://` is dropped: the driver adds the scheme itself. Unset in
   * production, where Neon's endpoints are used.
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
   * (default 5000): a database that is down or hangs fails the call instead of holding it (an
   * HTTP query's `fetch` is aborted). Client-side: Neon's pooled endpoint is PgBouncer, which
   * refuses `statement_timeout` as a startup parameter.
   */
  timeoutMs?: number;
}

export interface NeonDb {
  /** One-shot statements over HTTP; `db.transaction()` on the WebSocket pool. */
  db: Db;
  /** Closes the transaction pool's connections, if one was opened; idempotent. In a Worker: `ctx.waitUntil(neon.end())`. */
  end(): Promise<void>;
  /** Whether a transaction opened the WebSocket pool (a read never does). */
  pooled(): boolean;
}

/** The proxy's scheme and `host:port/<secret>`, without trailing slashes. */
function proxyOf(wsProxy: string | undefined): { secure: boolean; address: string } | undefined {
  if (wsProxy === undefined) return undefined;
  return { secure: wsProxy.startsWith('wss://'), address: wsProxy.replace(/^wss?:\/\//, '').replace(/\/+$/, '') };
}

/** `host:port` of a database URL as the driver hands it to `fetchEndpoint` (default port 5432). */
const endpointKey = (host: string, port: string | number) => `${host}:${port || 5432}`;

/**
 * Local HTTP endpoints by database `host:port`. The driver takes the endpoint from the global
 * `neonConfig.fetchEndpoint` only (its `neon()` options have none), and hands it the database's
 * host and port: so the one global hook looks the database up here, and every database without
 * a local proxy goes to Neon as the driver's default does. Last registration wins: one local
 * proxy per database server at a time in a process (a Worker isolate has one configuration).
 */
const localEndpoints = new Map<string, string>();
let neonEndpoint: typeof neonConfig.fetchEndpoint | undefined;

function registerLocalEndpoint(databaseUrl: string, proxy: { secure: boolean; address: string }): void {
  const url = new URL(databaseUrl);
  localEndpoints.set(endpointKey(url.hostname, url.port), `${proxy.secure ? 'https' : 'http'}://${proxy.address}/sql`);
  if (neonEndpoint !== undefined) return;
  const fallback = (neonEndpoint = neonConfig.fetchEndpoint);
  neonConfig.fetchEndpoint = (host, port, options) =>
    localEndpoints.get(endpointKey(host, port)) ?? (typeof fallback === 'function' ? fallback(host, port, options) : fallback);
}

/**
 * The driver's HTTP query function with a deadline on every query (`timeoutMs`): the request is
 * aborted, and the query rejects, when the endpoint does not answer in time.
 */
function httpQueries(options: NeonDbOptions): NeonQueryFunction<false, false> {
  const proxy = proxyOf(options.wsProxy);
  if (proxy) registerLocalEndpoint(options.databaseUrl, proxy);
  const timeoutMs = options.timeoutMs ?? 5_000;
  const sql = neon(options.databaseUrl);
  const query = sql.query;
  const transaction = sql.transaction;
  // Drizzle calls `query(text, params, options)` for every statement (and `transaction` for a batch).
  sql.query = (text, params, opts) => query(text, params, { ...opts, fetchOptions: { ...opts?.fetchOptions, signal: AbortSignal.timeout(timeoutMs) } });
  sql.transaction = ((queries: Parameters<typeof transaction>[0], opts?: Parameters<typeof transaction>[1]) =>
    transaction(queries, { ...opts, fetchOptions: { ...opts?.fetchOptions, signal: AbortSignal.timeout(timeoutMs) } })) as typeof transaction;
  return sql;
}

/**
 * A Neon `Pool` configured per pool, not through the global `neonConfig`: every client the
 * pool creates gets the settings on its own `neonConfig`, so pools with different proxies (a
 * test next to the dev server) do not overwrite each other. Connects lazily, on first query.
 */
export function createNeonPool(options: NeonDbOptions): Pool {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const pool = new Pool({ connectionString: options.databaseUrl, max: options.max ?? 10, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  const proxy = proxyOf(options.wsProxy)?.address;
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
 * Drizzle over the HTTP query path alone: stateless (each statement is its own `fetch`, made by
 * the request that awaits it), so one per configuration serves every request — a Worker keeps
 * one per isolate instead of building the driver and Drizzle's schema maps per request.
 */
export function createNeonHttpDb(options: NeonDbOptions): Db {
  return drizzleHttp({ client: httpQueries(options), schema }) as unknown as Db;
}

/**
 * A request's handle: statements over HTTP (on `http`, default a new one), transactions on a
 * WebSocket pool of its own made on first use. Cheap to create (no connection, no request until
 * a query), so the Worker makes one per request — a pool's sockets cannot outlive the request
 * that opened them — and ends it after the response. A transaction after `end()` fails (the pool
 * is not brought back).
 */
export function createNeonDb(options: NeonDbOptions, http: Db = createNeonHttpDb(options)): NeonDb {
  let pool: Pool | undefined;
  let poolDb: Db | undefined;
  let ended: Promise<void> | undefined;
  const transactions = (): Db => {
    if (ended) throw new Error('Cannot use a pool after calling end on the pool');
    if (!poolDb) {
      pool = createNeonPool(options);
      poolDb = drizzle({ client: pool, schema });
    }
    return poolDb;
  };
  // neon-http has no interactive transactions: they, and only they, take the WebSocket path. The
  // request's handle is the shared HTTP one with its own `transaction` (every other method and
  // field is found on the shared one, which it does not change).
  const transaction: Db['transaction'] = (work, config) => {
    try {
      return transactions().transaction(work, config);
    } catch (error) {
      return Promise.reject(error);
    }
  };
  const db = Object.create(http, { transaction: { value: transaction } }) as Db;
  return {
    db,
    end: () => (ended ??= pool ? pool.end() : Promise.resolve()),
    pooled: () => pool !== undefined,
  };
}
