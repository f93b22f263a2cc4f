/**
 * Neon's HTTP query endpoint (`POST /sql`), served by the dev/test proxy in front of a plain
 * PostgreSQL or the dev PGlite, so the Neon driver's `neon()` query function (and Drizzle's
 * `neon-http`) runs locally exactly as against Neon. Modelled on Neon's own proxy
 * (`proxy/src/serverless/sql_over_http.rs` and `json.rs` in neondatabase/neon):
 *
 * - The request: `POST` with `Neon-Connection-String` naming the database, a JSON body
 *   `{ query, params, arrayMode? }` or `{ queries: [...] }` (a batch, run in one transaction),
 *   and the options `Neon-Raw-Text-Output`, `Neon-Array-Mode` (only the value `true` counts) and,
 *   for a batch, `Neon-Batch-Isolation-Level` / `-Read-Only` / `-Deferrable`.
 * - Parameters arrive as JSON: null stays NULL, strings are passed as they are, numbers, booleans
 *   and objects as their JSON text, arrays as Postgres array literals.
 * - The answer: 200 `{ rowAsArray, fields, rows, command, rowCount }` (a batch: `{ results }`),
 *   `fields` as node-postgres names them, every value as Postgres' text when raw output is asked
 *   for (the driver always asks), otherwise booleans, int2/int4, finite floats and JSON as JSON.
 * - A Postgres error is 400 with its fields (`message`, `code`, `detail`, … as Neon names them);
 *   a database that cannot be reached is 500 with a message; an unknown isolation level 400.
 * - Connections are pooled per connection string, as Neon's proxy pools HTTP queries: a query
 *   opens no Postgres session of its own. A connection a query failed on is discarded.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import pg from 'pg';

export interface SqlOverHttpOptions {
  /** Whether the proxy may connect to `host:port` (normalised as {@link targetOf} writes it). */
  allowed(target: string): boolean;
  /** Connections kept per database (default 10; PGlite serves one query at a time, fewer do). */
  poolMax?: number;
  /** An idle pooled connection is closed after this long (default 10 s), so a dev database is not held for long. */
  idleMs?: number;
  /** Deadline of each connect (default 10 s). */
  connectTimeoutMs?: number;
}

export interface SqlOverHttp {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Postgres connections open right now, over all pools. */
  openConnections(): number;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Every value as the text Postgres sent: the driver parses it by the field's type. */
const RAW_TYPES = { getTypeParser: () => (value: string) => value };
const ISOLATION: Record<string, string> = {
  Serializable: 'SERIALIZABLE',
  ReadUncommitted: 'READ UNCOMMITTED',
  ReadCommitted: 'READ COMMITTED',
  RepeatableRead: 'REPEATABLE READ',
};
/** A Postgres error's fields as Neon names them (node-postgres' `DatabaseError` uses the same names). */
const ERROR_FIELDS = ['code', 'detail', 'hint', 'position', 'internalPosition', 'internalQuery', 'severity', 'where', 'table', 'column', 'schema', 'dataType', 'constraint', 'file', 'line', 'routine'] as const;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

interface QueryData {
  query: string;
  params: (string | null)[];
  arrayMode: boolean | undefined;
}

/** A JSON parameter as Postgres text (Neon's `json_to_pg_text`). */
function toPgText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return toPgArray(value);
  return JSON.stringify(value);
}

function toPgArray(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (Array.isArray(value)) return `{${value.map(toPgArray).join(',')}}`;
  if (typeof value === 'object') return JSON.stringify(JSON.stringify(value));
  return JSON.stringify(value);
}

function parseQuery(raw: unknown): QueryData {
  const q = raw as { query?: unknown; params?: unknown; arrayMode?: unknown } | null;
  if (!q || typeof q.query !== 'string') throw new HttpError(400, 'request body must be {"query": string, "params": [...]} or {"queries": [...]}');
  if (q.params !== undefined && !Array.isArray(q.params)) throw new HttpError(400, 'params must be an array');
  return { query: q.query, params: ((q.params as unknown[] | undefined) ?? []).map(toPgText), arrayMode: typeof q.arrayMode === 'boolean' ? q.arrayMode : undefined };
}

const BOOL = 16;
const INTEGER = new Set([21, 23]);
const FLOAT = new Set([700, 701]);
const JSON_TYPES = new Set([114, 3802]);
/** Array types whose elements are converted like the scalars above (bool, int2, int4, float4, float8, json, jsonb). */
const ARRAY_OF: Record<number, number> = { 1000: BOOL, 1005: 21, 1007: 23, 1021: 700, 1022: 701, 199: 114, 3807: 3802 };

/** A text value as JSON (Neon's `pg_text_to_json`), for clients that do not ask for raw text. */
function textToJson(text: string, type: number): unknown {
  const element = ARRAY_OF[type];
  if (element !== undefined) return parseArray(text, element);
  if (type === BOOL) return text === 't';
  if (INTEGER.has(type)) return Number.parseInt(text, 10);
  if (FLOAT.has(type)) {
    const n = Number(text);
    return Number.isFinite(n) ? n : text;
  }
  if (JSON_TYPES.has(type)) return JSON.parse(text) as unknown;
  return text;
}

/** A Postgres array literal of a converted element type as JSON (bounds decoration dropped). */
function parseArray(text: string, element: number): unknown[] {
  let i = text.startsWith('[') ? text.indexOf('=') + 1 : 0;
  const list = (): unknown[] => {
    if (text[i] !== '{') throw new HttpError(500, 'could not parse postgres response');
    i += 1;
    const items: unknown[] = [];
    while (i < text.length && text[i] !== '}') {
      if (text[i] === '{') items.push(list());
      else if (text[i] === '"') {
        let s = '';
        for (i += 1; text[i] !== '"'; i += 1) s += text[i] === '\\' ? text[++i] : text[i];
        i += 1;
        items.push(textToJson(s, element));
      } else {
        const end = Math.min(...[',', '}'].map((c) => text.indexOf(c, i)).filter((n) => n >= 0));
        const item = text.slice(i, end).trim();
        items.push(item === 'NULL' ? null : textToJson(item, element));
        i = end;
      }
      if (text[i] === ',') i += 1;
    }
    i += 1;
    return items;
  };
  return list();
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body too large (max is ${MAX_BODY_BYTES} bytes)`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

type Runner = Pick<pg.PoolClient, 'query'>;

async function runQuery(client: Runner, data: QueryData, raw: boolean, defaultArrayMode: boolean): Promise<Record<string, unknown>> {
  const result = await client.query({ text: data.query, values: data.params, rowMode: 'array', types: RAW_TYPES });
  const arrayMode = data.arrayMode ?? defaultArrayMode;
  const fields = result.fields.map((f) => ({
    name: f.name,
    dataTypeID: f.dataTypeID,
    tableID: f.tableID,
    columnID: f.columnID,
    dataTypeSize: f.dataTypeSize,
    dataTypeModifier: f.dataTypeModifier,
    format: 'text',
  }));
  const rows = (result.rows as unknown as (string | null)[][]).map((row) => {
    const values = row.map((v, i) => (v === null || raw ? v : textToJson(v, fields[i]?.dataTypeID ?? 0)));
    return arrayMode ? values : Object.fromEntries(values.map((v, i) => [fields[i]?.name ?? String(i), v]));
  });
  return { rowAsArray: arrayMode, fields, rows, command: result.command ?? '', rowCount: result.rowCount ?? null };
}

/** A Postgres error (the server answered) as Neon reports it; anything else means the database could not be reached. */
function describe(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof pg.DatabaseError) {
    const fields: Record<string, unknown> = {};
    for (const name of ERROR_FIELDS) {
      const value = (error as unknown as Record<string, unknown>)[name];
      fields[name] = value === undefined ? null : value;
    }
    return new HttpError(400, error.message, fields);
  }
  return new HttpError(500, `Couldn't connect to compute node: ${error instanceof Error ? error.message : String(error)}`);
}

/** The endpoint; `allowed` decides which databases it serves. */
export function sqlOverHttp(options: SqlOverHttpOptions): SqlOverHttp {
  const pools = new Map<string, pg.Pool>();
  let closed = false;

  const poolFor = (connectionString: string): pg.Pool => {
    let pool = pools.get(connectionString);
    if (!pool) {
      pool = new pg.Pool({
        connectionString,
        max: options.poolMax ?? 10,
        idleTimeoutMillis: options.idleMs ?? 10_000,
        connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      });
      // An idle connection that breaks is dropped by the pool; the next query opens another.
      pool.on('error', () => {});
      pools.set(connectionString, pool);
    }
    return pool;
  };

  const serve = async (req: IncomingMessage): Promise<{ body: Record<string, unknown>; headers: Record<string, string> }> => {
    const connectionString = req.headers['neon-connection-string'];
    if (typeof connectionString !== 'string' || !connectionString) throw new HttpError(400, 'missing Neon-Connection-String header');
    let url: URL;
    try {
      url = new URL(connectionString);
    } catch {
      throw new HttpError(400, 'Neon-Connection-String is not a valid URL');
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new HttpError(400, 'Neon-Connection-String must be a postgres:// URL');
    const target = `${url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase()}:${url.port || 5432}`;
    if (!options.allowed(target)) throw new HttpError(403, `this proxy does not serve ${target}`);
    const raw = req.headers['neon-raw-text-output'] === 'true';
    const arrayMode = req.headers['neon-array-mode'] === 'true';
    const isolationHeader = req.headers['neon-batch-isolation-level'];
    const isolation = typeof isolationHeader === 'string' ? ISOLATION[isolationHeader] : undefined;
    if (isolationHeader !== undefined && isolation === undefined) throw new HttpError(400, 'invalid isolation level');
    let payload: unknown;
    try {
      payload = JSON.parse(await readBody(req)) as unknown;
    } catch (error) {
      if (error instanceof HttpError) throw error;
      throw new HttpError(400, 'request body is not valid JSON');
    }
    const pool = poolFor(connectionString);
    const batch = (payload as { queries?: unknown } | null)?.queries;
    if (!Array.isArray(batch)) return { body: await runQuery(pool, parseQuery(payload), raw, arrayMode), headers: {} };

    const queries = batch.map(parseQuery);
    const readOnly = req.headers['neon-batch-read-only'] === 'true';
    const deferrable = req.headers['neon-batch-deferrable'] === 'true';
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query(['START TRANSACTION', isolation && `ISOLATION LEVEL ${isolation}`, readOnly && 'READ ONLY', deferrable && 'DEFERRABLE'].filter(Boolean).join(' '));
      try {
        const results: Record<string, unknown>[] = [];
        for (const query of queries) results.push(await runQuery(client, query, raw, arrayMode));
        await client.query('COMMIT');
        const headers: Record<string, string> = {};
        if (readOnly) headers['neon-batch-read-only'] = 'true';
        if (deferrable) headers['neon-batch-deferrable'] = 'true';
        if (typeof isolationHeader === 'string') headers['neon-batch-isolation-level'] = isolationHeader;
        return { body: { results }, headers };
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    } catch (error) {
      // As Neon's proxy: a connection a query failed on is not reused.
      broken = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      client.release(broken);
    }
  };

  return {
    handle(req, res) {
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        if (res.headersSent) return;
        const text = JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers }).end(text);
      };
      if (req.method !== 'POST') return send(405, { message: 'only POST is served' }, { allow: 'POST' });
      if (closed) return send(503, { message: 'the proxy is closing' });
      serve(req).then(
        ({ body, headers }) => send(200, body, headers),
        (error: unknown) => {
          const e = describe(error);
          send(e.status, { message: e.message, ...e.fields });
        },
      );
    },
    openConnections: () => [...pools.values()].reduce((n, pool) => n + pool.totalCount, 0),
    close: async () => {
      closed = true;
      await Promise.all([...pools.values()].map((pool) => pool.end().catch(() => {})));
      pools.clear();
    },
  };
}
