/**
 * Synchronous replication for the gauge over RESP: a script's answer waits until replicas have
 * its writes (`WAIT`), so a failover never loses a take that was answered 201 — asynchronous
 * replication otherwise loses the writes of the master's last moments, and the promoted replica
 * sells their stock again (README, failover; `test/chaos/failover.test.ts` measures both).
 *
 * - `waitReplicas: 'auto'` (the default, `REDIS_WAIT_REPLICAS=auto`): wait for one replica when
 *   the Redis has replicas — read once, at the first script call, from `INFO replication` (one
 *   Redis) or `CLUSTER NODES` (a cluster) — and not at all on a Redis without any (nothing to
 *   fail over to, nothing to wait for). Decided once per process: a master whose replica is down
 *   fails its writes closed (503, retried with the same key) rather than slip back into the
 *   asynchronous window.
 * - A number: wait for that many replicas (0: asynchronous, the window measured in the README).
 *
 * `WAIT` covers every write the connection sent before it, so one `WAIT` per connection and node
 * per event-loop turn, sent after the turn's script replies were read, confirms them all.
 */
import type { Cluster, Redis } from 'ioredis';

export type WaitSetting = number | 'auto';

/** Failed when `WAIT` answers fewer replicas than asked: the write may be lost by a failover. */
export class ReplicationTimeout extends Error {
  constructor(got: number, wanted: number) {
    super(`replication not confirmed: ${got} of ${wanted} replicas within the WAIT timeout`);
    this.name = 'ReplicationTimeout';
  }
}

/** Replicas the Redis (any master of the cluster) has now; what `auto` decides from. */
export async function replicasOf(client: Redis | Cluster, cluster: boolean): Promise<number> {
  if (cluster) {
    // Any master answers for the whole cluster; a replica whose link failed still counts (it
    // is meant to be there: its master fails closed until it is back).
    const text = String(await (client as Cluster).cluster('NODES'));
    return text
      .trim()
      .split('\n')
      .filter((line) => (line.split(' ')[2] ?? '').split(',').some((flag) => flag === 'slave' || flag === 'replica')).length;
  }
  const info = await (client as Redis).info('replication');
  return Number(/^connected_slaves:(\d+)/m.exec(info)?.[1] ?? 0);
}

export interface ReplicationWaiter {
  /** Replicas each script waits for: resolves `auto` on first use (then cached). */
  wanted(): Promise<number>;
  /** Resolves once `node`'s replicas have every write `node` sent before now. */
  replicated(node: Redis, replicas: number): Promise<void>;
  readonly stats: { waitsShort: number; waitReplicas: number | null };
}

export function replicationWaiter(setting: WaitSetting, timeoutMs: number, countReplicas: () => Promise<number>): ReplicationWaiter {
  const stats = { waitsShort: 0, waitReplicas: setting === 'auto' ? null : setting };
  let deciding: Promise<number> | null = null;
  const wanted = (): Promise<number> => {
    if (stats.waitReplicas !== null) return Promise.resolve(stats.waitReplicas);
    deciding ??= countReplicas().then(
      (n) => (stats.waitReplicas = n > 0 ? 1 : 0),
      (error: unknown) => {
        // Not knowing is no answer: this call fails (503) and the next one asks again.
        deciding = null;
        throw error;
      },
    );
    return deciding;
  };

  let waiting = new Map<Redis, { replicas: number; done: ((error: Error | null) => void)[] }>();
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const batch = waiting;
    waiting = new Map();
    for (const [node, { replicas, done }] of batch) {
      node.wait(replicas, timeoutMs).then(
        (got) => {
          const error = Number(got) >= replicas ? null : new ReplicationTimeout(Number(got), replicas);
          if (error) stats.waitsShort += done.length;
          for (const d of done) d(error);
        },
        (error: unknown) => {
          for (const d of done) d(error instanceof Error ? error : new Error(String(error)));
        },
      );
    }
  };
  const replicated = (node: Redis, replicas: number) =>
    new Promise<void>((resolve, reject) => {
      const entry = waiting.get(node) ?? { replicas, done: [] };
      entry.done.push((error) => (error ? reject(error) : resolve()));
      waiting.set(node, entry);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  return { wanted, replicated, stats };
}
