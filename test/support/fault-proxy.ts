/**
 * A TCP forwarder with the two ways a store goes away: `down` (connection refused, open
 * connections reset) and `hang` (connections are accepted, open ones stay open, and nothing is
 * ever answered — a stuck load balancer, a half-dead host). Byte-level, so it stands in front of
 * the Upstash REST endpoint, the Neon WebSocket proxy's Postgres or a plain Postgres alike.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { pairSockets } from './tcp-proxy.js';

export type FaultMode = 'pass' | 'down' | 'hang';

export interface FaultProxy {
  port: number;
  /** `host:port` of the proxy. */
  address: string;
  mode(): FaultMode;
  /** Switches every open and future connection to the mode. */
  set(mode: FaultMode): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  let current: FaultMode = 'pass';

  const accept = (client: Socket) => {
    const upstream = pairSockets(client, sockets);
    // Forward by hand, not by pipe: a hang must also silence connections opened before it.
    const pending: Buffer[] = [];
    let connected = false;
    client.on('data', (chunk: Buffer) => {
      if (current !== 'pass') return;
      if (connected) upstream.write(chunk);
      else pending.push(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (current === 'pass') client.write(chunk);
    });
    upstream.connect(target.port, target.host, () => {
      connected = true;
      for (const chunk of pending.splice(0)) upstream.write(chunk);
    });
  };

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer(accept);
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        const address = s.address();
        port = typeof address === 'object' && address ? address.port : port;
        server = s;
        resolve();
      });
    });

  const unlisten = async () => {
    const s = server;
    server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  const set = async (mode: FaultMode) => {
    const was = current;
    current = mode;
    // A connection that lived through a hang has lost bytes: no protocol can go on over it.
    if (was === 'hang' && mode !== 'hang') {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    }
    if (mode === 'down') {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      await unlisten();
    } else if (!server) {
      await listen();
    }
  };

  await listen();
  return {
    port,
    address: `127.0.0.1:${port}`,
    mode: () => current,
    set,
    close: async () => {
      current = 'down';
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      await unlisten();
    },
  };
}
