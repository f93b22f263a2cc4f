/**
 * Hostile input for property tests: generators of the strings, numbers and JSON an attacker
 * (or a broken client) sends, and a harness that sends each request through `app.request()`
 * and checks what every answer must be: never a 5xx, every error a problem+json with a code of
 * the closed set (and the status that code maps to), and a 4xx that changed nothing.
 */
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { expect } from 'vitest';
import { CouponAdmin } from '../../src/coupon/admin.js';
import { CouponLive } from '../../src/coupon/live.js';
import { ERROR_CODES } from '../../src/coupon/errors.js';
import { userCouponsOf } from '../../src/coupon/user-coupons.js';
import { STATUS } from '../../src/http/problem.js';
import { ADMIN, type TestApp } from './app.js';
import type { ProblemBody } from './fixtures.js';

/** Characters that mean something to Redis keys and patterns, SQL, URLs, JSON and terminals. */
const NASTY = [
  '{', '}', ':', '*', '?', '[', ']', "'", '";--', '%', '_', '\\', '/', '#', '&', '=', '+', '.', '..', ' ', '"',
  '\u0000', '\u0007', '\t', '\n', '\r', '\u001f', '\u007f', '\u0085', '\u00a0', '\u200b', '\u202e', '\ufeff', '\uffff',
  '\ud800', '\udfff', '😀', '👩‍👩‍👧', 'é', 'ß', 'İ', 'Ω', '中', 'a', 'Z', '0', '9', '-', 'cpn_', 'OR 1=1', '$1', '${x}',
];

/** A string made of hostile pieces, any Unicode, or both. */
export const hostileString = (maxLength = 40): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ unit: fc.constantFrom(...NASTY), minLength: 1, maxLength }),
    fc.string({ unit: 'binary', minLength: 0, maxLength }),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength }),
    fc.constantFrom('', ' ', 'null', 'undefined', '__proto__', 'constructor', '0', '-1', '1e309', 'x'.repeat(129), 'x'.repeat(201)),
  );

/** Number literals as raw JSON text (some are not valid JSON on purpose). */
export const NUMBER_LITERALS = [
  '1e309', '-1e309', '-0', '0', '1', '1.0', '0.5', '-1', '1e-324', '"NaN"', 'NaN', 'Infinity', '"1"', '9007199254740993',
  '9007199254740992', '1000000000000', '1000000000001', '1e12', '1e21', '00', '0x10', '+1', '.5', 'true', 'null', '[]', '{}', '"1e3"',
];

/** The value of a JSON literal; `undefined` when it is not JSON. */
export function parsed(literal: string): unknown {
  try {
    return JSON.parse(literal) as unknown;
  } catch {
    return undefined;
  }
}

/** Every field name of every request body, and a few that are close. */
export const FIELDS = ['userIds', 'ownerId', 'ttlSeconds', 'url', 'events', 'budget', 'discountAmount', 'currency', 'issuePeriodStock', 'usePeriodStock', 'period', 'name', 'issueStock', 'useStock', 'perUserIssueLimit', 'perUserUseLimit', 'issueWindow', 'useWindow', 'delta', 'userId', 'orderId', 'total', 'start', 'end'];

/** A valid body with one field replaced by any JSON value, and maybe an extra field. */
export const mutated = fc.record({
  field: fc.constantFrom(...FIELDS),
  value: fc.jsonValue({ maxDepth: 3 }),
  extra: fc.option(fc.tuple(fc.string(), fc.jsonValue({ maxDepth: 2 }))),
});

/** Valid as a text field of the contract: 1..max UTF-16 units, no control characters or BOM, no lone surrogates. */
export const validText = (s: string, max: number): boolean =>
  s.length >= 1 && s.length <= max && !/[\u0000-\u001f\u007f-\u009f\ufeff]/.test(s) && !/\p{Cs}/u.test(s);

/** `n` nested arrays, and `n` nested objects, as JSON text. */
export const deepArray = (n: number): string => '['.repeat(n) + ']'.repeat(n);
export const deepObject = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

/** Percent-encodes every byte of the UTF-8 form (a lone surrogate becomes U+FFFD, as a client's encoder would). */
export const encodeSegment = (s: string): string =>
  Array.from(new TextEncoder().encode(s), (b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');

export interface Sent {
  method: string;
  path: string;
  status: number;
  text: string;
  headers: Headers;
}

export interface SendOptions {
  token?: string | null;
  /** A raw body (sent as is) or a value to send as JSON. */
  body?: string | ReadableStream<Uint8Array> | { json: unknown };
  headers?: Record<string, string>;
}

/** A digest of every table: coupons, stocks, ledger and the Postgres gauges, idempotency records included. */
const DIGEST = sql.raw(
  `select md5(${['coupons', 'stocks', 'ledger', 'gauges', 'gauge_policies', 'gauge_operations']
    .map((t) => `coalesce((select string_agg(x::text, ',' order by x::text) from ${t} x), '')`)
    .join(` || '|' || `)}) as digest`,
);

/** Sends hostile requests and holds each answer to the rules. */
export class Harness {
  /** Requests sent, for the closing note. */
  sent = 0;
  private last: string | null = null;
  private readonly admin: CouponAdmin;
  private readonly live: CouponLive;

  /**
   * @param writes Writes the app's redis-server has made (on the Redis gauges, a private server):
   *   a refusal must not move it, which covers every key of the gauges, not only what a read shows.
   */
  constructor(
    private readonly t: TestApp,
    private readonly liveIds: string[],
    private readonly users: string[],
    private readonly writes?: () => Promise<number>,
  ) {
    this.admin = new CouponAdmin(t.deps);
    this.live = new CouponLive(t.deps);
  }

  async send(method: string, path: string, options: SendOptions = {}): Promise<Sent> {
    const headers = new Headers(options.headers);
    const token = options.token === undefined ? ADMIN : options.token;
    if (token !== null) headers.set('authorization', `Bearer ${token}`);
    let body: BodyInit | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === 'object' && 'json' in options.body ? JSON.stringify(options.body.json) : options.body;
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    }
    const init: RequestInit & { duplex?: 'half' } = { method, headers, body };
    if (body instanceof ReadableStream) init.duplex = 'half';
    this.sent += 1;
    const res = await this.t.app.request(new Request(`http://localhost${path}`, init));
    return { method, path, status: res.status, text: await res.text(), headers: res.headers };
  }

  /**
   * What an admin and a client can see (the coupon list, live stocks, users' holdings, read
   * through the services the routes call, to keep each snapshot cheap), plus a digest of every
   * table and, on Redis, the count of writes Redis has made.
   */
  async snapshot(): Promise<string> {
    // On Redis the ledger fills after the answers: drain first, so the state is the request's alone.
    await this.t.settle();
    const redisWrites = this.writes ? await this.writes() : null;
    const pages: unknown[] = [];
    for (let cursor: string | undefined, more = true; more; ) {
      const page = await this.admin.list({ limit: 100, cursor });
      pages.push(page.items);
      cursor = page.nextCursor ?? undefined;
      more = cursor !== undefined;
    }
    const live = await Promise.all(this.liveIds.map((id) => this.live.read(id)));
    const held = await Promise.all(this.users.map((u) => userCouponsOf(this.t.deps, u)));
    const rows = (await this.t.db.db.execute(DIGEST)) as unknown as { rows: { digest: string }[] };
    return JSON.stringify({ pages, live, held, digest: rows.rows[0]?.digest, redisWrites });
  }

  /**
   * Sends a request and checks the rules; returns the answer for further checks. The state is
   * compared with the one after the previous request (a success may change it, a refusal not).
   */
  async check(method: string, path: string, options: SendOptions = {}): Promise<Sent> {
    this.last ??= await this.snapshot();
    const sent = await this.send(method, path, options);
    const where = `${method} ${path} → ${sent.status} ${sent.text.slice(0, 300)}`;
    expect(sent.status, where).toBeLessThan(500);
    expect(sent.text, where).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
    const after = await this.snapshot();
    if (sent.status >= 400) {
      if (method !== 'HEAD') {
        expect(sent.headers.get('content-type'), where).toBe('application/problem+json');
        const problem = JSON.parse(sent.text) as ProblemBody;
        expect(ERROR_CODES, where).toContain(problem.code);
        expect(STATUS[problem.code as keyof typeof STATUS], where).toBe(sent.status);
        expect(problem.status, where).toBe(sent.status);
        for (const field of ['type', 'title', 'detail', 'requestId'] as const) expect(typeof problem[field], where).toBe('string');
      }
      expect(after, `a refusal changed the state: ${where}`).toBe(this.last);
    }
    this.last = after;
    return sent;
  }

  /** The code of a problem answer. */
  static code(sent: Sent): string {
    return (JSON.parse(sent.text) as ProblemBody).code;
  }
}
