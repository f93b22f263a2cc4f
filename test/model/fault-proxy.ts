/**
 * An HTTP fault proxy in front of the local Upstash REST endpoint: every request is forwarded,
 * and the next N requests lose their answer *after* Redis ran them — the one fault a client
 * cannot tell from "did not run". `drop` destroys the connection (the Upstash client retries the
 * request by itself, so the script may run again); `500` answers a server error (the client
 * gives up and the service must answer 503 for the caller to retry).
 */
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';

export type LostAnswer = 'drop' | '500';

export interface FaultProxy {
  url: string;
  /** The answers of the next `count` requests are lost after the store ran them. */
  loseNext(count: number, mode: LostAnswer): void;
  /** Forgets the faults not applied yet. */
  clear(): void;
  /** Faults applied so far, by mode. */
  readonly applied: Record<LostAnswer, number>;
  close(): Promise<void>;
}

const readAll = (stream: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const queue: LostAnswer[] = [];
  const applied: Record<LostAnswer, number> = { drop: 0, '500': 0 };

  const forward = (req: IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }>((resolve, reject) => {
      const headers = { ...req.headers, host: upstream.host, 'content-length': String(body.length) };
      delete headers.connection;
      const out = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers, agent }, (res) => {
        readAll(res).then((b) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: b }), reject);
      });
      out.on('error', reject);
      out.end(body);
    });

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      try {
        const body = await readAll(req);
        const answer = await forward(req, body);
        // The fault is chosen once the store has answered: the command ran whatever happens next.
        const fault = queue.shift();
        if (fault) applied[fault] += 1;
        if (fault === 'drop') return void req.socket.destroy();
        if (fault === '500') {
          res.writeHead(500, { 'content-type': 'application/json' });
          return void res.end(JSON.stringify({ error: 'injected: answer lost after execution' }));
        }
        const headers = { ...answer.headers };
        delete headers['transfer-encoding'];
        delete headers.connection;
        res.writeHead(answer.status, { ...headers, 'content-length': String(answer.body.length) });
        res.end(answer.body);
      } catch (error) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: `proxy: ${String(error)}` }));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    loseNext: (count, mode) => queue.push(...Array.from({ length: count }, () => mode)),
    clear: () => void queue.splice(0, queue.length),
    applied,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
