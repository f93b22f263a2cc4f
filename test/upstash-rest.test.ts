/**
 * The local Upstash REST endpoint against a real redis-server: @upstash/redis (the Cloudflare
 * entry, as the Worker uses it) works on it unmodified with auto-pipelining on, and the wire
 * shapes are Upstash's. The client's own habits are pinned too: others build on them.
 */
import { Redis } from '@upstash/redis/cloudflare';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { connect, type RespClient } from '../scripts/upstash-rest/resp.js';
import { startUpstashRest, type UpstashRest } from '../scripts/upstash-rest/server.js';

const TOKEN = 'rest-test-token';
let rest: UpstashRest;
let redis: Redis;
let direct: RespClient;
/** A key prefix of its own per test: the redis-server is shared with other suites. */
const prefix = () => `t:${Math.random().toString(36).slice(2)}:`;
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

beforeAll(async () => {
  rest = await startUpstashRest({ redisUrl: inject('redisUrl'), token: TOKEN });
  redis = new Redis({ url: rest.url, token: TOKEN, enableTelemetry: false, retry: false });
  direct = connect(inject('redisUrl'));
});
afterAll(async () => {
  direct.close();
  await rest.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const raw = (path: string, body: unknown, headers: Record<string, string> = {}, method = 'POST') =>
  fetch(`${rest.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
    ...(method === 'GET' ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
const json = async (res: Response | Promise<Response>) => (await res).json() as Promise<unknown>;

describe('what @upstash/redis 1.39 sends', () => {
  it('batches auto-pipelined commands to /pipeline, a few readers to /, MULTI to /multi-exec', async () => {
    const p = prefix();
    const spy = vi.spyOn(globalThis, 'fetch');
    await Promise.all([redis.set(`${p}a`, 'x'), redis.incr(`${p}n`), redis.get(`${p}a`), redis.get(`${p}b`)]);
    await redis.hgetall(`${p}h`);
    await redis.scan(0, { match: `${p}*` });
    await redis.multi().incr(`${p}n`).get(`${p}a`).exec();
    const sent = spy.mock.calls.map(([url, init]) => [new URL(String(url)).pathname, String(init?.body)]);
    expect(sent).toEqual([
      ['/pipeline', JSON.stringify([['set', `${p}a`, 'x'], ['incr', `${p}n`]])], // writes in one batch
      ['/pipeline', JSON.stringify([['get', `${p}a`], ['get', `${p}b`]])], // reads in another
      ['/', JSON.stringify(['hgetall', `${p}h`])],
      ['/', JSON.stringify(['scan', 0, 'match', `${p}*`])],
      ['/multi-exec', JSON.stringify([['incr', `${p}n`], ['get', `${p}a`]])],
    ]);
    for (const [, init] of spy.mock.calls) {
      expect(init?.method).toBe('POST');
      expect(init?.headers).toEqual({
        'Content-Type': 'application/json',
        authorization: `Bearer ${TOKEN}`,
        'Upstash-Encoding': 'base64',
        'upstash-sync-token': '', // read-your-writes; the endpoint sends none back, so always empty
      });
    }
  });

  it('sends one EVALSHA per script call once Redis knows the script, EVAL after NOSCRIPT', async () => {
    // A source of its own instead of SCRIPT FLUSH: a flush would hit the other suites sharing
    // this Redis (they count one EVALSHA per take). An unknown hash takes the same path.
    const script = redis.createScript<string>(`return 'echo:' .. ARGV[1] -- ${prefix()}`);
    rest.resetStats();
    expect(await script.exec([], ['a'])).toBe('echo:a');
    expect(rest.stats.log).toEqual([[`EVALSHA ${script.sha1}`], ['EVAL <script>']]);
    rest.resetStats();
    expect(await script.exec([], ['b'])).toBe('echo:b');
    expect(rest.stats).toMatchObject({ requests: 1, commands: 1, byPath: { '/pipeline': 1 } });
    expect(rest.stats.log).toEqual([[`EVALSHA ${script.sha1}`]]);
  });

  it('resends once after a dropped connection with retry: false; retry: { retries: 0 } does not', async () => {
    const key = `${prefix()}n`;
    rest.faults.failNext(1, 'timeout-after', 20);
    expect(await redis.incr(key)).toBe(2); // the command ran twice
    const once = new Redis({ url: rest.url, token: TOKEN, enableTelemetry: false, retry: { retries: 0 } });
    rest.faults.failNext(1, 'timeout-after', 20);
    await expect(once.incr(key)).rejects.toThrow();
    expect(await redis.get(key)).toBe(3);
  });
});

describe('commands through @upstash/redis', () => {
  it('serves strings, numbers, hashes, scans and streams', async () => {
    const p = prefix();
    expect(await redis.set(`${p}s`, 'héllo ✓', { ex: 60 })).toBe('OK');
    expect(await redis.get(`${p}s`)).toBe('héllo ✓');
    expect(await redis.incrby(`${p}n`, 5)).toBe(5);
    expect(await redis.incrby(`${p}n`, -7)).toBe(-2);
    await redis.hset(`${p}h`, { a: 'x', b: '2' });
    expect(await redis.hgetall(`${p}h`)).toEqual({ a: 'x', b: 2 });
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, { match: `${p}*`, count: 1000 });
      found.push(...keys);
      cursor = String(next);
    } while (cursor !== '0');
    expect(found.sort()).toEqual([`${p}h`, `${p}n`, `${p}s`]);
    const id = await redis.xadd(`${p}x`, '*', { f: 'v', g: 'w' });
    expect(await redis.xrange(`${p}x`, '-', '+')).toEqual({ [id]: { f: 'v', g: 'w' } });
  });

  it('runs EVAL with keys and arguments and returns nested tables', async () => {
    const key = `${prefix()}k`;
    const result = await redis.eval<string[], unknown>("return {KEYS[1], ARGV[1], 7, {ARGV[2], 'in'}}", [key], ['a', 'b']);
    expect(result).toEqual([key, 'a', 7, ['b', 'in']]);
  });

  it('round-trips Unicode, RESP framing bytes and a 1 MB value', async () => {
    const p = prefix();
    const tricky = 'nul\u0000 crlf\r\n$5\r\n*1\r\n é ✓ 😀 \u00ff';
    await redis.set(`${p}u`, tricky);
    expect(await redis.get(`${p}u`)).toBe(tricky);
    const big = 'é€😀x'.repeat(100_000); // about 1 MB of UTF-8: the reply arrives in many TCP chunks
    await redis.set(`${p}big`, big);
    expect(await redis.get(`${p}big`)).toBe(big);
  });

  it('keeps the Redis error text of a failing command', async () => {
    const key = `${prefix()}str`;
    await redis.set(key, 'text');
    await expect(redis.incr(key)).rejects.toThrow('Command failed: ERR value is not an integer or out of range');
    await expect(redis.hgetall(key)).rejects.toThrow(/^WRONGTYPE Operation against a key holding the wrong kind of value/);
    const res = await raw('/', ['EVALSHA', 'ffffffffffffffffffffffffffffffffffffffff', '0']);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'NOSCRIPT No matching script. Please use EVAL.' });
  });

  it('runs an explicit pipeline in one request, errors kept per command', async () => {
    const p = prefix();
    await redis.set(`${p}s`, 'text');
    rest.resetStats();
    const results = await redis.pipeline().set(`${p}a`, 'v').incr(`${p}s`).get(`${p}a`).exec({ keepErrors: true });
    expect(results).toEqual([
      { result: 'OK', error: undefined },
      { result: undefined, error: 'ERR value is not an integer or out of range' },
      { result: 'v', error: undefined },
    ]);
    expect(rest.stats).toMatchObject({ requests: 1, commands: 3, byPath: { '/pipeline': 1 } });
  });

  it('batches many concurrent commands into /pipeline requests', async () => {
    const p = prefix();
    const keys = Array.from({ length: 50 }, (_, i) => `${p}${i}`);
    rest.resetStats();
    await Promise.all(keys.map((key, i) => redis.set(key, i)));
    expect(await Promise.all(keys.map((key) => redis.get(key)))).toEqual(keys.map((_, i) => i));
    expect(rest.stats.commands).toBe(100);
    expect(rest.stats.byPath).toEqual({ '/pipeline': 2 });
  });

  it('runs MULTI/EXEC atomically, never interleaved with concurrent commands', async () => {
    const counter = `${prefix()}c`;
    const singles = Array.from({ length: 40 }, () => raw('/', ['INCR', counter]));
    const multis = Array.from({ length: 40 }, () => redis.multi().incr(counter).get(counter).exec());
    const pairs = await Promise.all(multis);
    await Promise.all(singles);
    for (const [incr, get] of pairs) expect(get).toBe(incr); // nothing ran between the two
    expect(await redis.get(counter)).toBe(80);
  });
});

describe('the wire, as raw HTTP', () => {
  it('answers RESP2 shapes: flat HGETALL, [cursor, [keys]] SCAN, nested XRANGE, null', async () => {
    const p = prefix();
    await raw('/', ['HSET', `${p}h`, 'f', 'vé', 'n', 1]);
    expect(await json(raw('/', ['HGETALL', `${p}h`]))).toEqual({ result: ['f', 'vé', 'n', '1'] });
    const scan = await json(raw('/', ['SCAN', 0, 'MATCH', `${p}*`, 'COUNT', 10]));
    expect(scan).toEqual({ result: [expect.any(String), expect.any(Array)] });
    const { result: id } = (await json(raw('/', ['XADD', `${p}x`, '*', 'f', 'v']))) as { result: string };
    expect(await json(raw('/', ['XRANGE', `${p}x`, '-', '+']))).toEqual({ result: [[id, ['f', 'v']]] });
    expect(await json(raw('/', ['GET', `${p}none`]))).toEqual({ result: null });
    expect(await json(raw('/', ['INCR', `${p}n`]))).toEqual({ result: 1 });
    expect(await json(raw('/', ['SET', `${p}b`, true]))).toEqual({ result: 'OK' });
    expect(await json(raw('/', ['GET', `${p}b`]))).toEqual({ result: 'true' });
  });

  it('base64-encodes every string, recursively, when asked; numbers, null and errors pass', async () => {
    const p = prefix();
    await direct.send(['SET', `${p}bin`, Buffer.from([0xff, 0x00, 0xfe, 0x0d, 0x0a])]);
    const enc = { 'upstash-encoding': 'base64' };
    expect(await json(raw('/', ['GET', `${p}bin`], enc))).toEqual({ result: '/wD+DQo=' }); // the bytes, not UTF-8 of them
    expect(await json(raw('/', ['SET', `${p}s`, 'vé'], enc))).toEqual({ result: b64('OK') });
    const { result: id } = (await json(raw('/', ['XADD', `${p}x`, '*', 'f', 'vé']))) as { result: string };
    const batch = [['XRANGE', `${p}x`, '-', '+'], ['INCR', `${p}n`], ['GET', `${p}none`], ['INCR', `${p}s`]];
    expect(await json(raw('/pipeline', batch, enc))).toEqual([
      { result: [[b64(id), [b64('f'), b64('vé')]]] },
      { result: 1 },
      { result: null },
      { error: 'ERR value is not an integer or out of range' },
    ]);
    const single = await raw('/', ['INCR', `${p}s`], enc);
    expect([single.status, await single.json()]).toEqual([400, { error: 'ERR value is not an integer or out of range' }]);
  });

  it('answers /multi-exec per command, and all-failed when Redis discards the transaction', async () => {
    const p = prefix();
    await raw('/', ['SET', `${p}s`, 'text']);
    const run = [['SET', `${p}a`, '1'], ['INCR', `${p}s`], ['INCR', `${p}a`]];
    expect(await json(raw('/multi-exec', run))).toEqual([
      { result: 'OK' },
      { error: 'ERR value is not an integer or out of range' },
      { result: 2 },
    ]);
    const discarded = await json(raw('/multi-exec', [['INCR', `${p}a`], ['GET']]));
    expect(discarded).toEqual([{ error: expect.stringMatching(/^EXECABORT/) }, { error: expect.stringMatching(/^EXECABORT/) }]);
    expect(await json(raw('/', ['GET', `${p}a`]))).toEqual({ result: '2' });
  });

  it('refuses a bad token, bad JSON, bad commands and connection-state commands', async () => {
    const noAuth = await fetch(`${rest.url}/`, { method: 'POST', body: '["PING"]' });
    expect([noAuth.status, await noAuth.json()]).toEqual([401, { error: 'Unauthorized' }]);
    const bad = await fetch(`${rest.url}/pipeline`, { method: 'POST', headers: { authorization: 'Bearer nope' }, body: '[["PING"]]' });
    expect(bad.status).toBe(401);
    const wrong = new Redis({ url: rest.url, token: 'nope', enableTelemetry: false, retry: false });
    await expect(wrong.hgetall('x')).rejects.toThrow(/^Unauthorized/);
    const badJson = await raw('/', '{not json');
    expect([badJson.status, await badJson.json()]).toEqual([400, { error: expect.stringMatching(/JSON/) }]);
    for (const body of [[], [{ object: true }], { a: 1 }]) expect((await raw('/', body)).status).toBe(400);
    expect((await raw('/pipeline', { a: 1 })).status).toBe(400);
    expect((await raw('/pipeline', [])).status).toBe(400);
    for (const command of [['MULTI'], ['SELECT', 1], ['subscribe', 'c']]) {
      const res = await raw('/', command);
      expect([res.status, await res.json()]).toEqual([400, { error: `ERR ${command[0]} is not supported by this REST endpoint` }]);
    }
    expect((await raw('/multi-exec', [['EXEC']])).status).toBe(400);
    expect((await raw('/pipeline', [], {}, 'GET')).status).toBe(405);
  });

  it("accepts Upstash's path style for curl", async () => {
    const key = encodeURIComponent(`${prefix()}k`);
    expect(await json(raw(`/set/${key}/a%20b`, null, {}, 'GET'))).toEqual({ result: 'OK' });
    expect(await json(raw(`/get/${key}`, null, {}, 'GET'))).toEqual({ result: 'a b' });
    expect(await json(raw(`/set/${key}`, 'from the body'))).toEqual({ result: 'OK' });
    expect(await json(raw(`/get/${key}`, null, {}, 'GET'))).toEqual({ result: 'from the body' });
  });

  it('injects faults: 500 before or after executing, and a dropped connection after', async () => {
    const key = `${prefix()}f`;
    rest.faults.failNext(1, '500-after');
    expect((await raw('/', ['SET', key, 'written'])).status).toBe(500);
    expect(await json(raw('/', ['GET', key]))).toEqual({ result: 'written' });
    rest.faults.failNext(1, '500-before');
    expect((await raw('/pipeline', [['SET', key, 'not-written']])).status).toBe(500);
    expect(await json(raw('/', ['GET', key]))).toEqual({ result: 'written' });
    rest.faults.failNext(1, 'timeout-after', 30);
    await expect(raw('/', ['SET', key, 'late'])).rejects.toThrow();
    expect(await json(raw('/', ['GET', key]))).toEqual({ result: 'late' });
  });
});
