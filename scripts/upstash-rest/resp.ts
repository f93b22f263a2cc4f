/**
 * A minimal RESP2 client over one TCP connection. Redis answers in order, so replies are
 * matched to a FIFO of waiting requests; a batch written in one go (a pipeline, or
 * MULTI … EXEC) is never interleaved with another. No npm Redis client: they turn replies such
 * as HGETALL into objects, and the REST endpoint must hand back RESP2 shapes untouched.
 */
import { Socket } from 'node:net';

/** A reply: bulk strings stay bytes until the caller encodes them. */
export type RespValue = Buffer | string | number | null | RespError | RespValue[];

/** An error reply (`-ERR …`), kept as data: one failed command must not fail its batch. */
export class RespError {
  constructor(readonly message: string) {}
}

/** One argument; numbers are sent as their decimal text, as Redis expects. */
export type RespArg = string | number | Buffer;

interface Pending {
  resolve: (v: RespValue) => void;
  reject: (e: Error) => void;
}

const CRLF = Buffer.from('\r\n');

/** Encodes one command as a RESP array of bulk strings. */
export function encodeCommand(args: RespArg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg));
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return Buffer.concat(parts);
}

/**
 * Parses one reply at `offset`; `null` when the buffer does not hold a whole reply yet (the
 * caller keeps the bytes and tries again when more arrive). Throws on bytes that are not RESP2.
 */
export function parseReply(buf: Buffer, offset: number): { value: RespValue; next: number } | null {
  const lineEnd = buf.indexOf(CRLF, offset);
  if (lineEnd < 0) return null;
  const type = String.fromCharCode(buf[offset] ?? 0);
  const line = buf.toString('utf8', offset + 1, lineEnd);
  const after = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next: after };
    case '-':
      return { value: new RespError(line), next: after };
    case ':':
      return { value: Number(line), next: after };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, next: after };
      if (buf.length < after + len + 2) return null;
      // A copy, not a view: the view would pin the whole receive buffer in memory.
      return { value: Buffer.from(buf.subarray(after, after + len)), next: after + len + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: after };
      const items: RespValue[] = [];
      let next = after;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, next);
        if (!item) return null;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

export class RespClient {
  private socket: Socket | null = null;
  private connecting: Promise<Socket> | null = null;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly pending: Pending[] = [];

  constructor(private readonly url: URL) {}

  private connect(): Promise<Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    this.connecting ??= new Promise<Socket>((resolve, reject) => {
      const socket = new Socket();
      socket.setNoDelay(true);
      socket.once('error', reject);
      socket.connect(Number(this.url.port || 6379), this.url.hostname, () => {
        socket.off('error', reject);
        // Events of a socket already replaced must not fail the requests of its successor.
        socket.on('error', (e) => this.socket === socket && this.fail(e));
        socket.on('close', () => this.socket === socket && this.fail(new Error('redis connection closed')));
        socket.on('data', (d: Buffer) => this.socket === socket && this.onData(d));
        this.socket = socket;
        this.buffer = Buffer.alloc(0);
        this.handshake(socket);
        resolve(socket);
      });
    }).finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  /** AUTH and SELECT from the URL (`redis://user:pass@host:port/db`), queued ahead of any command. */
  private handshake(socket: Socket): void {
    const commands: RespArg[][] = [];
    const password = decodeURIComponent(this.url.password);
    const user = decodeURIComponent(this.url.username);
    if (password) commands.push(user ? ['AUTH', user, password] : ['AUTH', password]);
    const db = this.url.pathname.replace(/^\//, '');
    if (db && db !== '0') commands.push(['SELECT', db]);
    if (!commands.length) return;
    for (const command of commands) {
      this.pending.push({
        resolve: (v) => v instanceof RespError && this.fail(new Error(`redis ${String(command[0])}: ${v.message}`)),
        reject: () => {},
      });
    }
    socket.write(Buffer.concat(commands.map(encodeCommand)));
  }

  private onData(data: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, data]) : data;
    let offset = 0;
    try {
      for (;;) {
        const reply = parseReply(this.buffer, offset);
        if (!reply) break;
        offset = reply.next;
        this.pending.shift()?.resolve(reply.value);
      }
    } catch (error) {
      // Out of sync with the server: no later reply can be matched to its request.
      this.fail(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.buffer = offset >= this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(offset);
  }

  /** Fails every waiting request; the next call reconnects. */
  private fail(error: Error): void {
    const socket = this.socket;
    this.socket = null;
    this.buffer = Buffer.alloc(0);
    socket?.destroy();
    for (const p of this.pending.splice(0)) p.reject(error);
  }

  /**
   * Sends commands in one write and resolves with their replies, in order. Nothing can come
   * between them on the wire, which is what makes MULTI … EXEC in one call atomic.
   */
  async pipeline(commands: RespArg[][]): Promise<RespValue[]> {
    const socket = await this.connect();
    const replies = commands.map(() => new Promise<RespValue>((resolve, reject) => this.pending.push({ resolve, reject })));
    socket.write(Buffer.concat(commands.map(encodeCommand)));
    return Promise.all(replies);
  }

  /** The same as `pipeline` (its first name; bench/ calls it so). */
  batch(commands: RespArg[][]): Promise<RespValue[]> {
    return this.pipeline(commands);
  }

  /** Sends one command; an error reply resolves as a `RespError`, it does not reject. */
  async send(command: RespArg[]): Promise<RespValue> {
    const [reply] = await this.pipeline([command]);
    return reply ?? null;
  }

  /** Closes the connection; requests still waiting fail. */
  close(): void {
    this.fail(new Error('redis client closed'));
  }
}

/** A client for `redis://[user:pass@]host[:port][/db]`; it connects on first use. */
export const connect = (url: string | URL): RespClient => new RespClient(typeof url === 'string' ? new URL(url) : url);
