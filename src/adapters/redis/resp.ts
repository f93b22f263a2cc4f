/**
 * The gauge over RESP: a self-hosted `redis-server`, a managed Redis or a Redis Cluster, reached
 * with ioredis (Node only). Same Lua scripts and the same `RedisGauge` as on Upstash; only the
 * transport differs:
 *
 * - one command per take: each script call is one `EVALSHA` (one `EVAL` after `NOSCRIPT`, e.g.
 *   after a restart or a failover to a replica that never saw the script);
 * - the calls of concurrent requests share writes: `enableAutoPipelining` sends every command
 *   queued in one event-loop turn in one socket write (per cluster node), as `coalesce.ts` does
 *   for Upstash's `/pipeline` — no HTTP hop and no second process in between;
 * - a cluster routes each script to the master of its first key's slot. Every key a script
 *   touches carries its coupon's hash tag (`cs:{c:<id>}:…`, `scripts.ts`), so one slot, one node;
 * - reconnection is the client's: a lost connection is retried (commands wait in its queue, each
 *   caller bounded by its own deadline, `withDeadline`); a cluster re-reads its slot map after a
 *   failover (MOVED, CLUSTERDOWN, a refused connection) and goes on with the promoted replica.
 *
 * `waitReplicas` (REDIS_WAIT_REPLICAS): after a script, answer only once that many replicas have
 * its writes (`WAIT`, one per node per event-loop turn), else fail the call (503, retry with the
 * same key). Asynchronous replication otherwise loses the writes of the last moments before a
 * master dies, after their 201 was sent (README, failover).
 */
import { createHash } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import type { RedisClient, ScriptRunner } from './redis-gauge.js';
import { slotOf } from './slot.js';

/** How the Node host reaches Redis: Upstash REST, one Redis over RESP, or a Redis Cluster. */
export type RedisMode = 'upstash' | 'redis' | 'cluster';

export interface RespOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` of one Redis. */
  url?: string;
  /** Seed nodes of a Redis Cluster (any of its nodes; the rest are discovered). */
  cluster?: { host: string; port: number }[];
  /** Password (and user) for every cluster node. */
  password?: string;
  username?: string;
  /** A command not answered within this is failed by the client (default 5000 ms). */
  commandTimeoutMs?: number;
  /** Replicas that must have a script's writes before it answers (default 0: no `WAIT`). */
  waitReplicas?: number;
  /** How long a `WAIT` may take (default 200 ms); fewer replicas by then fails the call. */
  waitTimeoutMs?: number;
}

/** A RESP connection as the gauge, the backlog metric and the start-up checks use it. */
export interface RespRedis {
  mode: Exclude<RedisMode, 'upstash'>;
  /** The ioredis client (a `Cluster` in cluster mode). */
  client: Redis | Cluster;
  /** The commands `RedisGauge` sends besides its scripts. */
  redis: RedisClient;
  /** Script runner: `EVALSHA`, `EVAL` on `NOSCRIPT`, optionally followed by `WAIT`. */
  scripts: ScriptRunner;
  /** What the ledger-backlog metric sends (`src/node/backlogs.ts`). */
  backlog: { pipeline(): { eval(script: string, keys: string[], args: string[]): unknown; exec(): Promise<unknown[]> } };
  /** `maxmemory-policy` of every node (`null` where `CONFIG` is refused). */
  evictionPolicies(): Promise<{ node: string; policy: string | null }[]>;
  /** Script calls whose `WAIT` found fewer replicas than asked (for tests and the README). */
  stats: { waitsShort: number };
  close(): Promise<void>;
}

type Node = Redis;

/** Failed when `WAIT` answers fewer replicas than asked: the write may be lost by a failover. */
export class ReplicationTimeout extends Error {
  constructor(got: number, wanted: number) {
    super(`replication not confirmed: ${got} of ${wanted} replicas within the WAIT timeout`);
    this.name = 'ReplicationTimeout';
  }
}

/** Escaped glob characters back to plain text, to find a SCAN pattern's hash tag. */
const unglob = (pattern: string) => pattern.replace(/\\(.)/g, '$1');

/** Connects (lazily: the first command connects) to one Redis or a cluster. */
export function respRedis(options: RespOptions): RespRedis {
  const commandTimeout = options.commandTimeoutMs ?? 5_000;
  const common = {
    enableAutoPipelining: true,
    // 0: no timeout of the client's own (the callers' deadlines still apply).
    commandTimeout: commandTimeout > 0 ? commandTimeout : undefined,
    connectTimeout: commandTimeout > 0 ? commandTimeout : 10_000,
    // Every script is idempotent, so a command resent after a reconnect is safe.
    autoResendUnfulfilledCommands: true,
    maxRetriesPerRequest: 3,
    lazyConnect: false,
    // RESP2, as the scripts' replies are shaped on every transport (Upstash answers RESP2
    // shapes only); it also keeps Redis before 6 and RESP2-only proxies in reach (no HELLO 3).
    protocol: 2,
  } as const;
  let client: Redis | Cluster;
  let mode: RespRedis['mode'];
  if (options.cluster && options.cluster.length > 0) {
    mode = 'cluster';
    client = new Cluster(options.cluster, {
      enableAutoPipelining: true,
      scaleReads: 'master',
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      maxRedirections: 16,
      slotsRefreshTimeout: 2_000,
      clusterRetryStrategy: (times) => Math.min(100 * times, 1_000),
      redisOptions: { ...common, password: options.password, username: options.username },
    });
  } else if (options.url) {
    mode = 'redis';
    client = new Redis(options.url, { ...common, retryStrategy: (times) => Math.min(50 * times, 1_000) });
  } else {
    throw new Error('respRedis: give a url or cluster nodes');
  }
  // Connection errors reach the callers of each command (as 503s); here they would be unhandled.
  client.on('error', () => {});

  /** The connection of the master that holds `key`'s slot (the client itself outside a cluster). */
  const nodeOf = (key: string): Node => {
    if (!(client instanceof Cluster)) return client;
    const owner = client.slots[slotOf(key)]?.[0];
    const masters = client.nodes('master');
    const found = masters.find((n) => `${n.options.host}:${n.options.port}` === owner);
    if (!found) throw new Error(`no cluster master known for the slot of ${key}`);
    return found;
  };

  const stats = { waitsShort: 0 };
  const waitReplicas = options.waitReplicas ?? 0;
  const waitTimeout = options.waitTimeoutMs ?? 200;
  // One WAIT per node per turn, sent after every script reply of the turn was read: it covers them.
  let waiting = new Map<Node, ((error: Error | null) => void)[]>();
  let waitScheduled = false;
  const flushWaits = () => {
    waitScheduled = false;
    const batch = waiting;
    waiting = new Map();
    for (const [node, callers] of batch) {
      node.wait(waitReplicas, waitTimeout).then(
        (got) => {
          const error = Number(got) >= waitReplicas ? null : new ReplicationTimeout(Number(got), waitReplicas);
          if (error) stats.waitsShort += callers.length;
          for (const done of callers) done(error);
        },
        (error: unknown) => {
          for (const done of callers) done(error instanceof Error ? error : new Error(String(error)));
        },
      );
    }
  };
  const replicated = (key: string) =>
    new Promise<void>((resolve, reject) => {
      const node = nodeOf(key);
      const callers = waiting.get(node) ?? [];
      callers.push((error) => (error ? reject(error) : resolve()));
      waiting.set(node, callers);
      if (!waitScheduled) {
        waitScheduled = true;
        setImmediate(flushWaits);
      }
    });

  const scripts: ScriptRunner = {
    createScript(source: string) {
      const sha = createHash('sha1').update(source).digest('hex');
      return {
        async exec(keys: string[], args: string[]): Promise<unknown> {
          // Refused here, not by the cluster: ioredis would fail every call sharing its pipeline.
          if (client instanceof Cluster && keys.some((k) => slotOf(k) !== slotOf(keys[0] ?? ''))) {
            throw new Error("CROSSSLOT Keys in request don't hash to the same slot");
          }
          let reply: unknown;
          try {
            reply = await client.evalsha(sha, keys.length, ...keys, ...args);
          } catch (error) {
            // NOSCRIPT means the script did not run: sending its source is safe.
            if (!(error instanceof Error) || !error.message.includes('NOSCRIPT')) throw error;
            reply = await client.eval(source, keys.length, ...keys, ...args);
          }
          if (waitReplicas > 0 && keys[0] !== undefined) await replicated(keys[0]);
          return reply;
        },
      };
    },
  };

  const scan = async (cursor: string | number, opts: { match: string; count: number }): Promise<[string, string[]]> => {
    // SCAN has no key: on a cluster it goes to the master of the pattern's hash tag (every
    // pattern the gauge scans is a scope prefix, one tag, one slot).
    const node = client instanceof Cluster ? nodeOf(unglob(opts.match)) : client;
    const [next, keys] = await node.scan(String(cursor), 'MATCH', opts.match, 'COUNT', opts.count);
    return [next, keys];
  };

  const commands = {
    createScript: (source: string) => scripts.createScript(source),
    scan,
    unlink: (...keys: string[]) => client.unlink(...keys),
    xdel: (key: string, ids: string[] | string) => client.xdel(key, ...(Array.isArray(ids) ? ids : [ids])),
    ping: () => client.ping(),
    zcount: (key: string, min: number | string, max: number | string) => client.zcount(key, min, max),
    hget: (key: string, field: string) => client.hget(key, field),
  };

  const backlog: RespRedis['backlog'] = {
    pipeline() {
      const calls: [string, string[], string[]][] = [];
      const pipe = {
        eval(script: string, keys: string[], args: string[]) {
          calls.push([script, keys, args]);
          return pipe;
        },
        // Auto-pipelining sends them together (per node on a cluster).
        exec: () => Promise.all(calls.map(([s, keys, args]) => client.eval(s, keys.length, ...keys, ...args))),
      };
      return pipe;
    },
  };

  return {
    mode,
    client,
    // The gauge's port is typed as the part of the Upstash client it uses; these are the same
    // calls with the same reply shapes (the gauge contract suite runs on this adapter).
    redis: commands as unknown as RedisClient,
    scripts,
    backlog,
    stats,
    async evictionPolicies() {
      if (client instanceof Cluster) await readyCluster(client, commandTimeout);
      const nodes = client instanceof Cluster ? client.nodes('all') : [client];
      return Promise.all(
        nodes.map(async (n) => {
          const node = `${n.options.host}:${n.options.port}`;
          try {
            const reply = (await n.config('GET', 'maxmemory-policy')) as unknown as string[];
            return { node, policy: typeof reply[1] === 'string' ? reply[1] : null };
          } catch (error) {
            // A managed Redis may refuse CONFIG; an unreachable node is a start-up failure.
            if (error instanceof Error && /unknown command|NOPERM|not allowed/i.test(error.message)) return { node, policy: null };
            throw error;
          }
        }),
      );
    },
    async close() {
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/** Waits until a cluster has its slot map (or fails after `ms`). */
async function readyCluster(cluster: Cluster, ms: number): Promise<void> {
  if (cluster.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cluster not ready within ${ms} ms`)), ms);
    cluster.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** `host:port,host:port` (REDIS_CLUSTER_NODES) as seed nodes; throws one line on a bad entry. */
export function parseClusterNodes(value: string): { host: string; port: number }[] {
  return value.split(',').map((raw) => {
    const entry = raw.trim();
    const match = /^(\[[0-9a-fA-F:]+\]|[^:\s/]+):(\d{1,5})$/.exec(entry);
    const port = Number(match?.[2]);
    if (!match?.[1] || !(port >= 1 && port <= 65_535)) throw new Error(`"${entry}" is not host:port`);
    return { host: match[1].replace(/^\[|\]$/g, ''), port };
  });
}
