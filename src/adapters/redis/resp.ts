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
 * - `connections` (REDIS_CONNECTIONS, default 2) connections take the script calls in turn: with
 *   one, the takes of a turn go out in one write and the next turn's wait for its replies, so
 *   Node and Redis take turns idling; with two, one connection's batch runs while the other's
 *   replies are read (bench: ~0.6× the raw take rate on one, ~0.9× on two). Takes that must
 *   keep their order (`TakeCommand.order`: a batch) share one connection.
 *
 * `waitReplicas` (REDIS_WAIT_REPLICAS, default `auto`): answer a script only once replicas have
 * its writes (`resp-wait.ts`): a failover then loses nothing that was answered (README, failover).
 */
import { createHash } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import type { RedisClient, ScriptRunner } from './redis-gauge.js';
import { replicasOf, replicationWaiter, type WaitSetting } from './resp-wait.js';
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
  /** Replicas that must have a script's writes before it answers (default `auto`, `resp-wait.ts`). */
  waitReplicas?: WaitSetting;
  /** Connections that take turns with the script calls (default 2). */
  connections?: number;
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
  /** Replicas each script waits for (`waitReplicas`; `auto` is decided by the first call). */
  replication(): Promise<number>;
  /** `maxmemory-policy` of every node (`null` where `CONFIG` is refused). */
  evictionPolicies(): Promise<{ node: string; policy: string | null }[]>;
  /** Script calls whose `WAIT` found fewer replicas than asked; the replicas waited for (`null`: not decided yet). */
  stats: { waitsShort: number; waitReplicas: number | null };
  close(): Promise<void>;
}

type Node = Redis;

export { ReplicationTimeout } from './resp-wait.js';

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
    // Named, so an operator's CLIENT LIST tells the service's connections apart.
    connectionName: 'coupon-stock',
  } as const;
  const mode: RespRedis['mode'] = options.cluster && options.cluster.length > 0 ? 'cluster' : 'redis';
  const connect = (): Redis | Cluster => {
    if (mode === 'cluster') {
      return new Cluster(options.cluster ?? [], {
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
    }
    if (!options.url) throw new Error('respRedis: give a url or cluster nodes');
    return new Redis(options.url, { ...common, retryStrategy: (times) => Math.min(50 * times, 1_000) });
  };
  const pool = Array.from({ length: Math.max(1, options.connections ?? 2) }, connect);
  // Connection errors reach the callers of each command (as 503s); here they would be unhandled.
  for (const c of pool) c.on('error', () => {});
  /** Everything but the script calls goes through the first connection. */
  const client = pool[0] as Redis | Cluster;
  // Calls take the connections in turn, so one connection's batch runs in Redis while the
  // other's replies are read; calls given the same `order` (a batch of takes) share one
  // connection, and so run in the order they were made.
  let turn = 0;
  const connectionFor = (order: string | undefined): Redis | Cluster => {
    if (order === undefined) return pool[turn++ % pool.length] as Redis | Cluster;
    let h = 0;
    for (let i = 0; i < order.length; i++) h = (h * 31 + order.charCodeAt(i)) | 0;
    return pool[Math.abs(h) % pool.length] as Redis | Cluster;
  };

  /** The connection of `c` to the master that holds `key`'s slot (`c` itself outside a cluster). */
  const nodeOf = (c: Redis | Cluster, key: string): Node => {
    if (!(c instanceof Cluster)) return c;
    const owner = c.slots[slotOf(key)]?.[0];
    const found = c.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
    if (!found) throw new Error(`no cluster master known for the slot of ${key}`);
    return found;
  };

  const waiter = replicationWaiter(options.waitReplicas ?? 'auto', options.waitTimeoutMs ?? 200, async () => {
    if (client instanceof Cluster) await readyCluster(client, commandTimeout);
    return replicasOf(client, mode === 'cluster');
  });

  const scripts: ScriptRunner = {
    createScript(source: string) {
      const sha = createHash('sha1').update(source).digest('hex');
      return {
        async exec(keys: string[], args: string[], order?: string): Promise<unknown> {
          // Refused here, not by the cluster: ioredis would fail every call sharing its pipeline.
          if (mode === 'cluster' && keys.some((k) => slotOf(k) !== slotOf(keys[0] ?? ''))) {
            throw new Error("CROSSSLOT Keys in request don't hash to the same slot");
          }
          // Known before the script runs: a take is not made only to be failed for want of it.
          const c = connectionFor(order);
          const replicas = await waiter.wanted();
          let reply: unknown;
          try {
            reply = await c.evalsha(sha, keys.length, ...keys, ...args);
          } catch (error) {
            // NOSCRIPT means the script did not run: sending its source is safe.
            if (!(error instanceof Error) || !error.message.includes('NOSCRIPT')) throw error;
            reply = await c.eval(source, keys.length, ...keys, ...args);
          }
          if (replicas > 0 && keys[0] !== undefined) await waiter.replicated(nodeOf(c, keys[0]), replicas);
          return reply;
        },
      };
    },
  };

  const scan = async (cursor: string | number, opts: { match: string; count: number }): Promise<[string, string[]]> => {
    // SCAN has no key: on a cluster it goes to the master of the pattern's hash tag (every
    // pattern the gauge scans is a scope prefix, one tag, one slot).
    const node = nodeOf(client, unglob(opts.match));
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
    stats: waiter.stats,
    replication: () => waiter.wanted(),
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
      await Promise.all(pool.map((c) => c.quit().catch(() => c.disconnect())));
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
