/**
 * The RESP2 client under the local Upstash REST endpoint: replies split anywhere still parse,
 * shapes stay RESP2, replies match requests in order, and a lost connection fails what waits
 * and reconnects for what comes next. Against the real redis-server of the global setup.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { connect, encodeCommand, parseReply, RespError, type RespClient } from '../scripts/upstash-rest/resp.js';

const prefix = () => `t:${Math.random().toString(36).slice(2)}:`;
const clients: RespClient[] = [];
const client = (url = inject('redisUrl')) => {
  const c = connect(url);
  clients.push(c);
  return c;
};
afterAll(() => {
  for (const c of clients) c.close();
});

describe('RESP2 parsing', () => {
  const wire = Buffer.concat([
    Buffer.from('*6\r\n+OK\r\n-ERR bad\r\n:-42\r\n$-1\r\n*-1\r\n*2\r\n$5\r\nab\r\nc\r\n*1\r\n$0\r\n\r\n'),
    Buffer.from('$2\r\n'),
    Buffer.from([0xff, 0x00]),
    Buffer.from('\r\n'),
  ]);

  it('parses nested arrays, null bulk and null array, errors and integers; bulk stays bytes', () => {
    const first = parseReply(wire, 0);
    expect(first?.value).toEqual(['OK', new RespError('ERR bad'), -42, null, null, [Buffer.from('ab\r\nc'), [Buffer.alloc(0)]]]);
    expect(parseReply(wire, first?.next ?? 0)).toEqual({ value: Buffer.from([0xff, 0x00]), next: wire.length });
  });

  it('waits for more bytes when a reply is cut anywhere', () => {
    const end = parseReply(wire, 0)?.next ?? 0;
    for (let cut = 0; cut < end; cut++) expect(parseReply(wire.subarray(0, cut), 0)).toBeNull();
  });

  it('encodes numbers and bytes as bulk strings', () => {
    expect(encodeCommand(['SET', 'k', 12, Buffer.from([0])]).toString('latin1')).toBe('*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n$1\r\n\0\r\n');
  });
});

describe('RESP client on a real redis-server', () => {
  it('answers a large pipeline in order, errors as values, HGETALL as a flat array', async () => {
    const p = prefix();
    const redis = client();
    const replies = await redis.pipeline(Array.from({ length: 2000 }, () => ['INCR', `${p}n`]));
    expect(replies).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    await redis.send(['HSET', `${p}h`, 'a', 1, 'b', 'é']);
    expect(await redis.send(['HGETALL', `${p}h`])).toEqual([Buffer.from('a'), Buffer.from('1'), Buffer.from('b'), Buffer.from('é')]);
    expect(await redis.send(['HGET', `${p}n`, 'x'])).toEqual(new RespError('WRONGTYPE Operation against a key holding the wrong kind of value'));
    expect(await redis.send(['PING'])).toBe('PONG'); // the error did not break the stream
  });

  it('fails what is waiting when the connection drops, then reconnects', async () => {
    const p = prefix();
    const redis = client();
    const killer = client();
    const id = await redis.send(['CLIENT', 'ID']);
    // The expectation is attached before the kill: the close can arrive before KILL's own
    // reply, and a rejection with no handler yet would be reported as unhandled.
    const blocked = expect(redis.send(['BLPOP', `${p}never`, 10])).rejects.toThrow('redis connection closed');
    await new Promise((r) => setTimeout(r, 50)); // the BLPOP is in Redis now
    expect(await killer.send(['CLIENT', 'KILL', 'ID', String(id)])).toBe(1);
    await blocked;
    expect(await redis.send(['PING'])).toBe('PONG');
    expect(await redis.send(['CLIENT', 'ID'])).not.toBe(id);
  });

  it('rejects when Redis cannot be reached or refuses the credentials in the URL', async () => {
    await expect(client('redis://127.0.0.1:1').send(['PING'])).rejects.toThrow(/ECONNREFUSED/);
    const url = new URL(inject('redisUrl'));
    url.password = 'secret';
    await expect(client(url.toString()).send(['PING'])).rejects.toThrow(/^redis AUTH: ERR AUTH <password> called without any password/);
  });

  it('selects the database named in the URL', async () => {
    const key = `${prefix()}db`;
    const db1 = client(`${inject('redisUrl')}/1`);
    await db1.send(['SET', key, 'one', 'EX', 60]);
    expect(await client().send(['EXISTS', key])).toBe(0);
    expect(await db1.send(['GET', key])).toEqual(Buffer.from('one'));
    await db1.send(['DEL', key]);
  });
});
