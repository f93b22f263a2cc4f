/**
 * A real Redis Cluster on loopback for tests and the benchmark: `redis-server` processes in
 * cluster mode on free ports, joined by `redis-cli --cluster create`, each in its own directory,
 * stopped (and their directories removed) by `stop()`. With `replicas: 1` every master has a
 * replica, so killing a master promotes it (after `nodeTimeoutMs`).
 *
 * `npx tsx scripts/local/cluster.ts [masters] [replicas]` starts one and keeps it until Ctrl-C,
 * printing the REDIS_CLUSTER_NODES value to use.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, portOpen } from './servers.js';

export interface ClusterOptions {
  /** Masters (default 3; 1 without replicas makes a one-node cluster that holds every slot). */
  masters?: number;
  /** Replicas per master (default 0). */
  replicas?: number;
  /** `cluster-node-timeout`: how long a master may be silent before its replica takes over (default 1000 ms). */
  nodeTimeoutMs?: number;
}

export interface ClusterNodeInfo {
  port: number;
  /** Node id in the cluster. */
  id: string;
  role: 'master' | 'replica';
}

export interface LocalCluster {
  /** `127.0.0.1:p1,127.0.0.1:p2,…` (every node): the REDIS_CLUSTER_NODES value. */
  seeds: string;
  ports: number[];
  /** Every node and its role now (asked from a live node). */
  nodes(): Promise<ClusterNodeInfo[]>;
  /** The port of the master that serves `slot` now. */
  masterOf(slot: number): Promise<number>;
  /** A plain connection to one node (closed by `stop()`). */
  node(port: number): Redis;
  /** `kill -9` one node. */
  kill(port: number): Promise<void>;
  /** Freezes a node (SIGSTOP): a replica that falls behind its master, a master that hangs. */
  pause(port: number): void;
  /** Lets a frozen node run again (SIGCONT). */
  resume(port: number): void;
  /** The ports of the replicas of the master on `port`. */
  replicasOf(port: number): Promise<number[]>;
  /** Starts a killed node again on its port and directory: it rejoins (a failed-over master as a replica). */
  restart(port: number): Promise<void>;
  /** Resolves once every slot is served by a live master and the cluster says ok. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startCluster(options: ClusterOptions = {}): Promise<LocalCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 0;
  const count = masters * (1 + replicas);
  const root = mkdtempSync(join(tmpdir(), 'cs-redis-cluster-'));
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await freePort();
    // The cluster bus listens on port + 10000: it must be free too, and below 65536.
    if (port + 10_000 < 65_536 && !ports.includes(port) && !(await portOpen('127.0.0.1', port + 10_000))) ports.push(port);
  }
  const children = new Map<number, ChildProcess>();
  const argsOf = new Map<number, string[]>();
  const clients = new Map<number, Redis>();
  const node = (port: number) => {
    let c = clients.get(port);
    if (!c) {
      c = new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
      c.on('error', () => {});
      clients.set(port, c);
    }
    return c;
  };
  const stop = async () => {
    for (const c of clients.values()) c.disconnect();
    await Promise.all(
      [...children.values()].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }),
    );
    rmSync(root, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const dir = join(root, String(port));
      spawnSync('mkdir', ['-p', dir]);
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'];
      args.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 1_000));
      // The other masters' coupons keep being served while one master's slots fail over.
      args.push('--cluster-require-full-coverage', 'no', '--maxmemory-policy', 'noeviction');
      // A node learns its own address from its peers; a one-node cluster has none to tell it.
      args.push('--cluster-announce-ip', '127.0.0.1');
      argsOf.set(port, args);
      children.set(port, spawn('redis-server', args, { stdio: 'ignore' }));
    }
    const deadline = Date.now() + 15_000;
    for (const port of ports) {
      while (!(await portOpen('127.0.0.1', port))) {
        if (Date.now() > deadline) throw new Error(`cluster node ${port} did not start`);
        await sleep(20);
      }
    }
    if (masters === 1 && replicas === 0) {
      // `redis-cli --cluster create` wants 3 masters; one node takes every slot by itself.
      const one = spawnSync('redis-cli', ['-p', String(ports[0]), 'CLUSTER', 'ADDSLOTSRANGE', '0', String(16_383)], { encoding: 'utf8', timeout: 10_000 });
      if (one.status !== 0 || !one.stdout.includes('OK')) throw new Error(`CLUSTER ADDSLOTSRANGE failed: ${one.stdout}${one.stderr}`);
    } else {
      const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes'], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`.slice(0, 2_000));
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const alive = (port: number) => {
    const child = children.get(port);
    return !!child && child.exitCode === null && child.signalCode === null;
  };
  const nodes = async (): Promise<ClusterNodeInfo[]> => {
    for (const port of ports) {
      if (!alive(port)) continue;
      try {
        const text = String(await node(port).cluster('NODES'));
        return text
          .trim()
          .split('\n')
          .filter((line) => !line.includes('fail') && !line.includes('noaddr'))
          .map((line) => {
            const [id = '', address = '', flags = ''] = line.split(' ');
            return { id, port: Number(address.split('@')[0]?.split(':')[1]), role: flags.includes('master') ? 'master' : 'replica' } as ClusterNodeInfo;
          });
      } catch {
        // This node is down: ask the next.
      }
    }
    throw new Error('no cluster node answers');
  };
  const masterOf = async (slot: number): Promise<number> => {
    for (const port of ports) {
      if (!alive(port)) continue;
      try {
        const ranges = await node(port).cluster('SLOTS');
        const range = ranges.find(([from, to]) => slot >= from && slot <= to);
        if (range?.[2]) return Number(range[2][1]);
      } catch {
        // Ask the next node.
      }
    }
    throw new Error(`no master serves slot ${slot}`);
  };
  const waitHealthy = async (timeoutMs = 30_000) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const live = ports.filter(alive);
      const states = await Promise.all(live.map((p) => node(p).cluster('INFO').then(String, () => '')));
      const ok = states.every((s) => s.includes('cluster_state:ok') && s.includes('cluster_slots_ok:16384'));
      if (ok) {
        // Every live master is a master in every live node's view, and each replica is in sync.
        const infos = await Promise.all(live.map((p) => node(p).info('replication').then(String, () => '')));
        if (infos.every((i) => !i.includes('role:slave') || i.includes('master_link_status:up'))) return;
      }
      if (Date.now() > until) throw new Error(`cluster not healthy within ${timeoutMs} ms`);
      await sleep(100);
    }
  };
  await waitHealthy();
  return {
    seeds: ports.map((p) => `127.0.0.1:${p}`).join(','),
    ports,
    nodes,
    masterOf,
    node,
    kill: async (port) => {
      const child = children.get(port);
      if (!child || !alive(port)) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
    pause: (port) => void children.get(port)?.kill('SIGSTOP'),
    resume: (port) => void children.get(port)?.kill('SIGCONT'),
    replicasOf: async (port) => {
      const all = await nodes();
      const master = all.find((n) => n.port === port);
      for (const p of ports) {
        if (!alive(p) || p === port) continue;
        try {
          const text = String(await node(p).cluster('NODES'));
          return text
            .trim()
            .split('\n')
            .map((line) => line.split(' '))
            .filter(([, , flags = '', masterId = '']) => flags.includes('slave') && masterId === master?.id)
            .map(([, address = '']) => Number(address.split('@')[0]?.split(':')[1]));
        } catch {
          // Ask the next node.
        }
      }
      return [];
    },
    restart: async (port) => {
      if (alive(port)) return;
      children.set(port, spawn('redis-server', argsOf.get(port) ?? [], { stdio: 'ignore' }));
      const until = Date.now() + 15_000;
      while (!(await portOpen('127.0.0.1', port))) {
        if (Date.now() > until) throw new Error(`cluster node ${port} did not start again`);
        await sleep(20);
      }
    },
    waitHealthy,
    stop,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const cluster = await startCluster({ masters: Number(process.argv[2] ?? 3), replicas: Number(process.argv[3] ?? 0) });
  console.log(`REDIS_CLUSTER_NODES=${cluster.seeds}`);
  const bye = () => void cluster.stop().then(() => process.exit(0));
  process.on('SIGINT', bye);
  process.on('SIGTERM', bye);
}
