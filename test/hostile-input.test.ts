/**
 * Hostile input, property-based (fast-check), through `app.request()` on the real adapters
 * (PGlite): arbitrary and deep JSON, wrong-typed and extra fields, huge and non-integer
 * numbers, Unicode, control characters, Redis-key and SQL metacharacters in every id (path and
 * body), oversized bodies, wrong content types, odd Idempotency-Keys and Authorization headers,
 * unknown methods and paths. Every answer: never a 5xx, every error a problem+json with a code
 * from the closed set, and a refusal changes nothing (`test/support/hostile.ts`).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/http/app.js';
import { ADMIN, CLIENT, GAUGE_KINDS, testApp, type TestApp } from './support/app.js';
import { createDraft, createLive, issued, used, type CouponBody, type IssuedBody, UNKNOWN_COUPON } from './support/fixtures.js';
import { startPrivateRedis, type PrivateRedis } from './support/redis-server.js';
import { deepArray, deepObject, encodeSegment, FIELDS, Harness, hostileString, mutated, NUMBER_LITERALS, parsed, type SendOptions, validText } from './support/hostile.js';

describe.each(GAUGE_KINDS)('hostile input (%s gauges)', (gauges) => {
  let t: TestApp;
  let h: Harness;
  let draft: CouponBody;
  let live: CouponBody;
  let sale: CouponBody;
  let pub: CouponBody;
  let paused: CouponBody;
  let archived: CouponBody;
  let issueIds: string[];
  let useIds: string[];
  let started = Date.now();
  /** The Redis run's own redis-server: its write counter must see this file's writes only. */
  let redis: PrivateRedis | null = null;

  beforeAll(async () => {
    started = Date.now();
    if (gauges === 'redis') redis = await startPrivateRedis();
    t = await testApp({ gauges, ...(redis ? { redisUrl: redis.url } : {}) });
    draft = await createDraft(t, { name: 'draft' });
    live = await createLive(t, { issueStock: { total: 5_000 }, useStock: { total: 5_000 }, perUserIssueLimit: 3, perUserUseLimit: 3 });
    sale = await createLive(t, { issueStock: { total: 100_000 }, useStock: { total: 100_000 }, perUserIssueLimit: 3, perUserUseLimit: 3 });
    pub = await createLive(t, { useStock: { total: 100_000 } });
    paused = await createLive(t, { issueStock: { total: 10 } });
    archived = await createLive(t, { issueStock: { total: 10 } });
    await t.call('POST', `/v1/coupons/${paused.id}/pause`);
    await t.call('POST', `/v1/coupons/${archived.id}/archive`);
    const held = [await issued(t, live.id, 'holder'), await issued(t, live.id, 'holder')];
    issueIds = held.map((i) => i.issueId);
    useIds = [(await used(t, live.id, 'holder')).useId];
    // Live reads where takes happen; paused and archived coupons are covered by the list and the table digest.
    h = new Harness(t, [live.id, sale.id, pub.id], ['holder'], redis ? () => redis?.writes() ?? Promise.resolve(0) : undefined);
  }, 60_000);

  afterAll(async () => {
    console.log(`hostile input (${gauges} gauges): ${h.sent} requests tried in ${((Date.now() - started) / 1000).toFixed(1)} s: no 5xx, every error a problem with a known code, no refusal changed anything`);
    await t.close();
    await redis?.stop();
  });

  type Route = [method: string, path: string, token: string, base: Record<string, unknown>];

  const bodyRoutes = (): Route[] => [
    ['POST', '/v1/coupons', ADMIN, { name: 'n' }],
    ['PATCH', `/v1/coupons/${draft.id}`, ADMIN, { name: 'n' }],
    ['PATCH', `/v1/coupons/${live.id}`, ADMIN, { name: 'n' }],
    ['POST', `/v1/coupons/${live.id}/stocks/issue/adjust`, ADMIN, { delta: 1 }],
    ['POST', `/v1/coupons/${live.id}/stocks/use/adjust`, ADMIN, { delta: 1 }],
    ['POST', `/v1/coupons/${live.id}/issues`, CLIENT, { userId: 'u' }],
    ['POST', `/v1/coupons/${live.id}/uses`, CLIENT, { userId: 'holder', orderId: 'o' }],
    ['POST', `/v1/coupons/${pub.id}/uses`, CLIENT, { userId: 'u', orderId: 'o' }],
    ['POST', `/v1/coupons/${paused.id}/issues`, CLIENT, { userId: 'u' }],
    ['POST', `/v1/coupons/${archived.id}/issues`, CLIENT, { userId: 'u' }],
    ['POST', `/v1/coupons/${live.id}/issues:batch`, CLIENT, { userIds: ['u', 'v'] }],
  ];

  const routeIndex = fc.nat({ max: 10 });
  const route = (i: number): Route => bodyRoutes()[i] ?? bodyRoutes()[0]!;

  describe('bodies', () => {
    it('arbitrary JSON values, objects with extra or wrong-typed fields, and malformed text', async () => {
      const body = fc.oneof(
        fc.jsonValue({ maxDepth: 4 }).map((json) => ({ json })),
        fc.dictionary(fc.oneof(fc.constantFrom(...FIELDS), fc.string()), fc.jsonValue({ maxDepth: 3 })).map((json) => ({ json })),
        fc.string({ maxLength: 200 }),
        mutated,
      );
      await fc.assert(
        fc.asyncProperty(routeIndex, body, async (i, b) => {
          const [method, path, token, base] = route(i);
          const payload: SendOptions['body'] = typeof b === 'string' ? b : 'json' in b ? b : { json: { ...base, [b.field]: b.value, ...(b.extra ? { [b.extra[0]]: b.extra[1] } : {}) } };
          await h.check(method, path, { token, body: payload });
        }),
        { numRuns: 250 },
      );
    });

    it('huge, negative-zero, non-integer and non-numeric numbers: accepted exactly when they are integers in range', async () => {
      // Per-user limits are Postgres integers (at most 2^31 − 1); `null` there means no limit.
      const cases: [path: () => string, template: (n: string) => string, ok: (v: number) => boolean, method?: string][] = [
        [() => '/v1/coupons', (n) => `{"name":"n","issueStock":{"total":${n}}}`, (v) => v >= 0 && v <= 1e12],
        [() => '/v1/coupons', (n) => `{"name":"n","perUserIssueLimit":${n},"perUserUseLimit":1}`, (v) => v >= 1 && v <= 2 ** 31 - 1],
        [() => `/v1/coupons/${live.id}/stocks/use/adjust`, (n) => `{"delta":${n}}`, (v) => v !== 0 && Math.abs(v) <= 1e12],
        [() => `/v1/coupons/${draft.id}`, (n) => `{"useStock":{"total":${n}}}`, (v) => v >= 0 && v <= 1e12, 'PATCH'],
      ];
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...NUMBER_LITERALS), fc.nat({ max: cases.length - 1 }), async (literal, k) => {
          const [path, template, ok, method = 'POST'] = cases[k]!;
          const sent = await h.check(method, path(), { body: template(literal) });
          const value = parsed(literal);
          const valid = (typeof value === 'number' && Number.isInteger(value) && ok(value)) || (value === null && k === 1);
          if (valid) expect([200, 201, 409], `${literal}`).toContain(sent.status);
          else expect(sent.status, `${literal} must be refused`).toBe(400);
        }),
        { numRuns: 150 },
      );
      for (const literal of NUMBER_LITERALS) {
        const sent = await h.check('GET', `/v1/coupons?limit=${encodeSegment(literal)}`);
        expect([200, 400]).toContain(sent.status);
      }
    });

    it('deep JSON is a 400 (or 413 past the limit), never a stack overflow', async () => {
      for (const [path, token] of [['/v1/coupons', ADMIN], [`/v1/coupons/${sale.id}/issues`, CLIENT]] as const) {
        expect((await h.check('POST', path, { token, body: deepArray(10_000) })).status).toBe(413);
        expect((await h.check('POST', path, { token, body: deepArray(8_000) })).status).toBe(400);
        expect((await h.check('POST', path, { token, body: deepObject(2_500) })).status).toBe(400);
        expect((await h.check('POST', path, { token, body: `{"userId":${deepArray(8_000)}}` })).status).toBe(400);
        expect((await h.check('POST', path, { token, body: '['.repeat(16_000) })).status).toBe(400);
      }
      // The same app with a 4 MiB body limit parses 10,000 and 1,000,000 nested arrays: still a 400.
      const roomy = createApp({ tokens: { admin: ADMIN, client: CLIENT }, info: { runtime: 'node', db: 'pglite' }, deps: () => ({ deps: t.deps }), log: () => {}, maxBodyBytes: 4 * 1024 * 1024 });
      for (const body of [deepArray(10_000), deepArray(1_000_000), deepObject(100_000), `{"name":"n","x":${deepArray(500_000)}}`]) {
        h.sent += 1;
        const res = await roomy.request('/v1/coupons', { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body });
        expect(res.status).toBe(400);
        expect((await res.json()) as unknown).toMatchObject({ code: 'VALIDATION_FAILED' });
      }
    });

    it('oversized bodies are 413 whatever their type, token or transfer (length or chunked)', async () => {
      await fc.assert(
        fc.asyncProperty(routeIndex, fc.integer({ min: 1, max: 64_000 }), fc.constantFrom('application/json', 'text/plain', 'application/octet-stream'), fc.boolean(), fc.boolean(), async (i, over, type, chunked, authorized) => {
          const [method, path, token] = route(i);
          // Every route has 16 KiB but the bulk issue, which carries up to 1,000 user ids in 1 MiB.
          const limit = path.endsWith('/issues:batch') ? 1024 * 1024 : 16 * 1024;
          const text = JSON.stringify({ name: 'x'.repeat(limit + over) });
          const body = chunked
            ? new ReadableStream<Uint8Array>({
                start(controller) {
                  const bytes = new TextEncoder().encode(text);
                  for (let at = 0; at < bytes.length; at += 4096) controller.enqueue(bytes.subarray(at, at + 4096));
                  controller.close();
                },
              })
            : text;
          const sent = await h.check(method, path, { token: authorized ? token : null, body, headers: { 'content-type': type } });
          expect(sent.status).toBe(413);
        }),
        { numRuns: 100 },
      );
    });

    it('a body that is not JSON is 415, whatever else it claims', async () => {
      const notJson = fc.oneof(
        fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'text/json', 'json', 'application/jsonx', 'application/json-patch', 'application/octet-stream', '*/*', 'application/*'),
        fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).filter((s) => !/json/i.test(s)),
      );
      await fc.assert(
        fc.asyncProperty(routeIndex, notJson, async (i, type) => {
          const [method, path, token, base] = route(i);
          const sent = await h.check(method, path, { token, body: { json: base }, headers: { 'content-type': type } });
          expect(sent.status, type).toBe(415);
        }),
        { numRuns: 100 },
      );
    });
  });

  describe('strings in ids and fields', () => {
    const couponRoutes: [string, string, string, SendOptions['body']?][] = [
      ['GET', '/v1/coupons/{id}', ADMIN], ['PATCH', '/v1/coupons/{id}', ADMIN, { json: { name: 'n' } }], ['DELETE', '/v1/coupons/{id}', ADMIN],
      ['POST', '/v1/coupons/{id}/confirm', ADMIN], ['POST', '/v1/coupons/{id}/pause', ADMIN], ['POST', '/v1/coupons/{id}/resume', ADMIN],
      ['POST', '/v1/coupons/{id}/archive', ADMIN], ['POST', '/v1/coupons/{id}/rebuild', ADMIN], ['POST', '/v1/coupons/{id}/stocks/sync', ADMIN],
      ['POST', '/v1/coupons/{id}/stocks/issue/adjust', ADMIN, { json: { delta: 1 } }], ['GET', '/v1/coupons/{id}/stocks/live', CLIENT],
      ['POST', '/v1/coupons/{id}/issues', CLIENT, { json: { userId: 'u' } }], ['POST', '/v1/coupons/{id}/uses', CLIENT, { json: { userId: 'u' } }],
      ['POST', '/v1/coupons/{id}/issues:batch', CLIENT, { json: { userIds: ['u'] } }],
      ['POST', '/v1/coupons/{live}/issues/{id}/cancel', CLIENT], ['POST', '/v1/coupons/{live}/uses/{id}/cancel', CLIENT],
      ['POST', '/v1/coupons/{id}/issues/{issue}/cancel', CLIENT], ['POST', '/v1/coupons/{id}/uses/{use}/cancel', CLIENT],
    ];

    it('hostile coupon, issue and use ids in the path are 404 (or 400), encoded or raw', async () => {
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: couponRoutes.length - 1 }), hostileString(), fc.boolean(), async (k, id, raw) => {
          const [method, template, token, body] = couponRoutes[k]!;
          const segment = raw ? id.replace(/[%#?/\\]/g, encodeSegment) : encodeSegment(id);
          const path = template.replace('{id}', segment).replace('{live}', live.id).replace('{issue}', issueIds[0]!).replace('{use}', useIds[0]!);
          const sent = await h.check(method, path, { token, body });
          // A dot segment or nothing at all is another path (a URL drops tabs and newlines): only the rules above apply.
          if (!['.', '..', ''].includes(raw ? id.replace(/[\t\n\r]/g, '') : id)) expect([400, 404], `${method} ${path}`).toContain(sent.status);
        }),
        { numRuns: 200 },
      );
    });

    it('hostile user ids, order ids, names, cursors and statuses: accepted exactly when valid, never aliased', async () => {
      const issuedTo = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(hostileString(140), fc.nat({ max: 4 }), async (s, k) => {
          if (k === 0) {
            const sent = await h.check('POST', `/v1/coupons/${sale.id}/issues`, { token: CLIENT, body: { json: { userId: s } } });
            if (!validText(s, 128)) return void expect(sent.status).toBe(400);
            const before = issuedTo.get(s) ?? 0;
            expect(sent.status, JSON.stringify(s)).toBe(before < 3 ? 201 : 409);
            if (sent.status !== 201) return;
            issuedTo.set(s, before + 1);
            expect((JSON.parse(sent.text) as IssuedBody).userId).toBe(s);
            if (['.', '..'].includes(s.trim())) return; // not a path segment
            const holdings = await h.check('GET', `/v1/users/${encodeSegment(s)}/coupons`, { token: CLIENT });
            const mine = (JSON.parse(holdings.text) as { userId: string; coupons: { couponId: string; issued: number }[] });
            expect(mine.userId).toBe(s);
            expect(mine.coupons.find((c) => c.couponId === sale.id)?.issued ?? 0, JSON.stringify(s)).toBe(issuedTo.get(s) ?? 0);
          } else if (k === 1) {
            const sent = await h.check('POST', `/v1/coupons/${pub.id}/uses`, { token: CLIENT, body: { json: { userId: 'order-user', orderId: s } } });
            expect(sent.status).toBe(validText(s, 128) ? 201 : 400);
          } else if (k === 2) {
            const sent = await h.check('POST', '/v1/coupons', { body: { json: { name: s } } });
            expect(sent.status).toBe(validText(s, 200) ? 201 : 400);
            if (sent.status !== 201) return;
            const created = JSON.parse(sent.text) as CouponBody;
            expect(created.name).toBe(s);
            expect((await h.check('DELETE', `/v1/coupons/${created.id}`)).status).toBe(204);
          } else {
            const key = k === 3 ? 'cursor' : 'status';
            const sent = await h.check('GET', `/v1/coupons?${key}=${encodeSegment(s)}`);
            expect([200, 400]).toContain(sent.status);
          }
        }),
        { numRuns: 250, endOnFailure: true },
      );
    });
  });

  describe('headers', () => {
    const invalidKey = fc.oneof(
      fc.constantFrom('', ' ', '\t', '  \t ', 'a b', 'clé', 'ÿÿÿÿ', 'x'.repeat(256), 'x'.repeat(5000)),
      fc.string({ unit: fc.constantFrom('é', 'ü', '\u00a0', '\u00ff', ' ', 'a'), minLength: 1, maxLength: 20 }).filter((s) => /[^\x21-\x7e]/.test(s.trim()) || s.trim() === ''),
    );
    const validKey = fc.string({ unit: fc.constantFrom('{', '}', ':', '*', '?', '[', "'", '"', ';', '-', '%', '_', '\\', 'a', '0'), minLength: 1, maxLength: 255 });

    it('Idempotency-Key: invalid keys are 400 and take nothing; valid ones replay, refuse another body, and are scoped per coupon and route', async () => {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(fc.oneof(invalidKey.map((key) => ({ raw: key, valid: false })), validKey.map((key) => ({ raw: key, valid: true }))), async ({ raw, valid }) => {
          const user = `idem-${(n += 1)}`;
          // A valid key is made unique per run (fast-check repeats values), keeping its characters.
          const key = valid ? `${raw.slice(0, 245)}~${n}` : raw;
          const issue = (userId: string, coupon = sale.id, kind = 'issues') =>
            h.check('POST', `/v1/coupons/${coupon}/${kind}`, { token: CLIENT, body: { json: { userId } }, headers: { 'idempotency-key': key } });
          const first = await issue(user);
          if (!valid) return void expect(first.status, JSON.stringify(key)).toBe(400);
          expect(first.status).toBe(201);
          const replay = await issue(user);
          expect({ status: replay.status, text: replay.text, replayed: replay.headers.get('idempotent-replayed') }).toEqual({ status: 201, text: first.text, replayed: 'true' });
          expect(Harness.code(await issue(`${user}-other`))).toBe('IDEMPOTENCY_KEY_REUSED');
          expect((await issue(user, live.id)).status).toBe(201); // another coupon: another take
          expect((await issue(user, sale.id, 'uses')).status).toBe(201); // another route: another take
        }),
        { numRuns: 100, endOnFailure: true },
      );
    });

    it('Authorization: anything but a known bearer token is 401; the client token on admin routes is 403', async () => {
      const header = fc.oneof(
        fc.string({ unit: 'binary-ascii', maxLength: 80 }),
        fc.string({ maxLength: 600 }).map((s) => `Bearer ${s}`),
        fc.constantFrom('Bearer', 'Bearer ', `Bearer  ${ADMIN}`, `Basic ${ADMIN}`, `${ADMIN}`, `Bearer ${ADMIN}x`, `Bearer ${ADMIN.slice(0, -1)}`, `Bearer ${CLIENT.toUpperCase()}`),
      );
      await fc.assert(
        fc.asyncProperty(routeIndex, header, async (i, value) => {
          const [method, path, , base] = route(i);
          let headers: Record<string, string>;
          try {
            headers = Object.fromEntries(new Headers({ authorization: value }));
          } catch {
            return; // not a header value a client can send
          }
          const sent = await h.check(method, path, { token: null, body: { json: base }, headers });
          expect(sent.status, JSON.stringify(value)).toBe(401);
        }),
        { numRuns: 100 },
      );
      for (const [method, path, , base] of bodyRoutes().filter(([, , token]) => token === ADMIN)) {
        expect((await h.check(method, path, { token: CLIENT, body: { json: base } })).status, `${method} ${path}`).toBe(403);
      }
    });

    it('unknown methods and paths are problems, never a 5xx', async () => {
      const segment = fc.oneof(hostileString(12).map(encodeSegment), fc.constantFrom('v1', 'coupons', UNKNOWN_COUPON, 'issues', 'uses', 'stocks', 'live', 'cancel', 'users', 'admin'));
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'PROPFIND', 'TRACE-X'), fc.array(segment, { maxLength: 6 }), fc.boolean(), async (method, segments, body) => {
          const path = `/v1/${segments.join('/')}`;
          await h.check(method, path, { token: CLIENT, body: body && method !== 'GET' && method !== 'HEAD' ? { json: { userId: 'u' } } : undefined });
        }),
        { numRuns: 150 },
      );
    });
  });
});
