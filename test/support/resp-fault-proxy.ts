/**
 * A RESP fault proxy: a TCP forwarder between a Redis client and a real redis-server that reads
 * both directions as RESP, so it can lose the answer of the next N scripts *after* Redis ran
 * them — the fault a client cannot tell from "did not run" — as `test/model/fault-proxy.ts` does
 * for the Upstash REST endpoint:
 *
 * - `drop`: the connection is cut when the script's reply arrives (ioredis reconnects and sends
 *   the unanswered commands again, so the script may run twice: it must be idempotent);
 * - `500`: the reply is replaced by an error reply (the caller gets an error, the service a 503,
 *   and the client retries with the same key).
 *
 * Only `EVALSHA`/`EVAL` replies are lost; the client's own commands (its ready check, `PING`,
 * `SCAN`) pass.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { parseReply } from '../../scripts/upstash-rest/resp.js';
import { pairSockets } from './tcp-proxy.js';

export type LostAnswer = 'drop' | '500';

export interface RespFaultProxy {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  loseNext(count: number, mode: LostAnswer): void;
  clear(): void;
  readonly applied: Record<LostAnswer, number>;
  close(): Promise<void>;
}

const INJECTED = Buffer.from('-ERR injected: answer lost after execution\r\n');

/** Splits whole RESP values off the front of `buf`; returns them (as byte ranges) and the rest. */
function split(buf: Buffer): { values: { bytes: Buffer; value: unknown }[]; rest: Buffer } {
  const values: { bytes: Buffer; value: unknown }[] = [];
  let offset = 0;
  for (;;) {
    if (offset >= buf.length) break;
    const parsed = parseReply(buf, offset);
    if (!parsed) break;
    values.push({ bytes: buf.subarray(offset, parsed.next), value: parsed.value });
    offset = parsed.next;
  }
  return { values, rest: Buffer.from(buf.subarray(offset)) };
}

export async function startRespFaultProxy(target: { host: string; port: number }): Promise<RespFaultProxy> {
  const queue: LostAnswer[] = [];
  const applied: Record<LostAnswer, number> = { drop: 0, '500': 0 };
  const sockets = new Set<Socket>();

  const server: Server = createServer((client) => {
    const upstream = pairSockets(client, sockets);
    /** Names of the commands sent and not answered yet, in order. */
    const sent: string[] = [];
    let fromClient: Buffer = Buffer.alloc(0);
    let fromServer: Buffer = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      fromClient = Buffer.concat([fromClient, chunk]);
      const { values, rest } = split(fromClient);
      fromClient = rest;
      for (const { value } of values) {
        const name = Array.isArray(value) ? String(value[0] ?? '') : '';
        sent.push(name.toLowerCase());
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      fromServer = Buffer.concat([fromServer, chunk]);
      const { values, rest } = split(fromServer);
      fromServer = rest;
      const out: Buffer[] = [];
      for (const { bytes } of values) {
        const name = sent.shift() ?? '';
        const fault = name === 'evalsha' || name === 'eval' ? queue.shift() : undefined;
        if (fault) applied[fault] += 1;
        if (fault === 'drop') {
          // What was answered before it still reaches the client; this answer and the rest do not.
          if (out.length > 0) client.write(Buffer.concat(out));
          // Both ends go; pairSockets forgets them when they close.
          client.destroy();
          upstream.destroy();
          return;
        }
        out.push(fault === '500' ? INJECTED : bytes);
      }
      if (out.length > 0) client.write(Buffer.concat(out));
    });
    // Bytes the client writes before the upstream connects are buffered by the socket.
    upstream.connect(target.port, target.host);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `redis://127.0.0.1:${port}`,
    loseNext: (count, mode) => queue.push(...Array.from({ length: count }, () => mode)),
    clear: () => void queue.splice(0, queue.length),
    applied,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
