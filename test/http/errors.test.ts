/**
 * Failure shapes and the system routes: every 4xx is problem+json with a stable code and
 * changes nothing; validation lists every issue; body limit and media type; unknown routes;
 * /openapi.json, /docs, /health; no stack traces, even for a 500.
 */
import { describe, expect, it, vi } from 'vitest';
import { CLIENT, useTestApp, testApp } from '../support/app.js';
import { createDraft, createLive, expectJson, expectProblem, getCoupon, issued, live, type CouponBody } from '../support/fixtures.js';

useTestApp('errors', (t, gauges) => {
  describe('validation', () => {
    it('lists every issue of a create body in errors[] at once', async () => {
      const res = await t.call('POST', '/v1/coupons', {
        body: {
          name: '',
          issueStock: { total: -1 },
          useStock: { total: 1, extra: 1 },
          perUserIssueLimit: 1.5,
          perUserUseLimit: 0,
          issueWindow: { start: '2026-02-01T00:00:00Z', end: '2026-01-01T00:00:00Z' },
          useWindow: { start: 'yesterday' },
          issue_stock: { total: 3 },
        },
      });
      const problem = await expectProblem(res, 400, 'VALIDATION_FAILED');
      const paths = (problem.errors ?? []).map((e) => e.path);
      for (const path of ['body.name', 'body.issueStock.total', 'body.useStock', 'body.perUserIssueLimit', 'body.perUserUseLimit', 'body.issueWindow.end', 'body.useWindow.start', 'body']) {
        expect(paths, path).toContain(path);
      }
      expect(problem.errors?.find((e) => e.path === 'body')?.message).toMatch(/issue_stock/);
      for (const e of problem.errors ?? []) expect(e.message.length).toBeGreaterThan(0);
    });

    it('refuses a window that ends at or before its start', async () => {
      for (const end of ['2026-01-01T00:00:00Z', '2025-12-31T23:59:59Z']) {
        const res = await t.call('POST', '/v1/coupons', { body: { name: 'w', useWindow: { start: '2026-01-01T00:00:00Z', end } } });
        const problem = await expectProblem(res, 400, 'VALIDATION_FAILED');
        expect(problem.errors).toEqual([{ path: 'body.useWindow.end', message: expect.any(String) }]);
      }
      const draft = await createDraft(t);
      const patch = await t.call('PATCH', `/v1/coupons/${draft.id}`, { body: { issueWindow: { start: '2026-01-02T00:00:00+01:00', end: '2026-01-01T23:00:00Z' } } });
      expect((await expectProblem(patch, 400, 'VALIDATION_FAILED')).errors?.map((e) => e.path)).toEqual(['body.issueWindow.end']);
      expect(await getCoupon(t, draft.id)).toEqual(draft);
    });

    it('answers malformed JSON, a non-object body and a missing body with 400 VALIDATION_FAILED', async () => {
      for (const payload of ['{"name":', '[]', 'null', '"name"', '']) {
        const problem = await expectProblem(await t.call('POST', '/v1/coupons', { body: payload, headers: { 'content-type': 'application/json' } }), 400, 'VALIDATION_FAILED');
        expect(problem.errors?.length, payload).toBeGreaterThan(0);
      }
    });

    it('answers 415 UNSUPPORTED_MEDIA_TYPE for a body that is not JSON', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
        await expectProblem(await t.call('POST', '/v1/coupons', { body: 'name=x', headers: { 'content-type': type } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
      }
      const coupon = await createLive(t, { issueStock: { total: 1 } });
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/issues`, { token: CLIENT, body: 'userId=u1', headers: { 'content-type': 'text/plain' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
      expect((await live(t, coupon.id)).issue?.remain).toBe(1);
    });

    it('answers 413 PAYLOAD_TOO_LARGE above 16 KiB, and judges a body just under it on its merits', async () => {
      const big = JSON.stringify({ name: 'x'.repeat(16 * 1024) });
      await expectProblem(await t.call('POST', '/v1/coupons', { body: big }), 413, 'PAYLOAD_TOO_LARGE');
      const coupon = await createLive(t, { issueStock: { total: 1 } });
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/issues`, { token: CLIENT, body: { userId: 'u'.repeat(20_000) } }), 413, 'PAYLOAD_TOO_LARGE');
      const fits = JSON.stringify({ name: 'x'.repeat(16 * 1024 - 20) });
      expect(new TextEncoder().encode(fits).length).toBeLessThanOrEqual(16 * 1024);
      await expectProblem(await t.call('POST', '/v1/coupons', { body: fits }), 400, 'VALIDATION_FAILED');
      expect((await live(t, coupon.id)).issue?.remain).toBe(1);
    });
  });

  describe('refusals change nothing', () => {
    it('leaves the coupon and its stocks as they were after every kind of 4xx', async () => {
      const coupon = await createLive(t, { issueStock: { total: 2 }, perUserIssueLimit: 1, useStock: { total: 1 } });
      await issued(t, coupon.id, 'u1');
      const before = { coupon: await getCoupon(t, coupon.id), live: await live(t, coupon.id) };
      const base = `/v1/coupons/${coupon.id}`;
      const attempts: [string, string, unknown, number, string][] = [
        ['PATCH', base, { name: 'x' }, 409, 'NOT_EDITABLE'],
        ['DELETE', base, undefined, 409, 'NOT_EDITABLE'],
        ['POST', `${base}/stocks/issue/adjust`, { delta: -2 }, 409, 'BELOW_ZERO'],
        ['POST', `${base}/stocks/issue/adjust`, { delta: 0 }, 400, 'VALIDATION_FAILED'],
        ['POST', `${base}/issues`, { userId: 'u1' }, 409, 'USER_LIMIT_REACHED'],
        ['POST', `${base}/uses`, { userId: 'u2' }, 409, 'NOT_ISSUED'],
        ['POST', `${base}/issues`, { userId: 'u2', more: 1 }, 400, 'VALIDATION_FAILED'],
        ['POST', `${base}/issues/iss_0000000000zzzzzzzzzzzzzzzz/cancel`, undefined, 404, 'NOT_FOUND'],
        ['POST', `${base}/uses/use_0000000000zzzzzzzzzzzzzzzz/cancel`, undefined, 404, 'NOT_FOUND'],
        ['POST', `${base}/stocks/gift/adjust`, { delta: 1 }, 400, 'VALIDATION_FAILED'],
      ];
      for (const [method, path, payload, status, code] of attempts) {
        const token = path.includes('/issues') || path.includes('/uses') ? CLIENT : undefined;
        await expectProblem(await t.call(method, path, { token, body: payload }), status, code);
      }
      expect({ coupon: await getCoupon(t, coupon.id), live: await live(t, coupon.id) }).toEqual(before);
    });

    it('gives each problem its own requestId, also sent as X-Request-Id', async () => {
      const a = await t.call('GET', '/v1/coupons/nope');
      const b = await t.call('GET', '/v1/coupons/nope');
      const pa = await expectProblem(a, 404, 'NOT_FOUND');
      const pb = await expectProblem(b, 404, 'NOT_FOUND');
      expect(pa.requestId).not.toBe(pb.requestId);
      expect(a.headers.get('x-request-id')).toBe(pa.requestId);
      expect(pa.type).toMatch(/^https:\/\//);
      expect(pa.title).toBe('Not found');
    });
  });

  describe('unknown routes', () => {
    it('answer 404 NOT_FOUND problems (after auth under /v1)', async () => {
      for (const [method, path] of [['GET', '/v1/nope'], ['PUT', '/v1/coupons'], ['POST', '/v1/coupons/x/y/z'], ['GET', '/nope'], ['DELETE', '/health']] as const) {
        await expectProblem(await t.call(method, path), 404, 'NOT_FOUND');
      }
      await expectProblem(await t.call('GET', '/v1/nope', { token: null }), 401, 'UNAUTHORIZED');
    });
  });

  describe('system routes', () => {
    it('/health reports the runtime and stores', async () => {
      const health = await expectJson<Record<string, unknown>>(await t.call('GET', '/health', { token: null }), 200);
      expect(health).toMatchObject({ status: 'ok', runtime: 'node', gauges, db: gauges === 'redis' ? 'postgres' : 'pglite' });
    });

    it('/openapi.json is OpenAPI 3.1 and lists every route of the contract', async () => {
      interface Doc {
        openapi: string;
        paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      }
      const doc = await expectJson<Doc>(await t.call('GET', '/openapi.json', { token: null }), 200);
      expect(doc.openapi).toMatch(/^3\.1\./);
      const routes = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
      const contract = [
        'GET /health',
        'POST /v1/coupons',
        'GET /v1/coupons',
        'GET /v1/coupons/{id}',
        'PATCH /v1/coupons/{id}',
        'DELETE /v1/coupons/{id}',
        'POST /v1/coupons/{id}/confirm',
        'POST /v1/coupons/{id}/pause',
        'POST /v1/coupons/{id}/resume',
        'POST /v1/coupons/{id}/stocks/{stock}/adjust',
        'POST /v1/coupons/{id}/stocks/sync',
        'GET /v1/coupons/{id}/stocks/live',
        'POST /v1/coupons/{id}/archive',
        'POST /v1/coupons/{id}/issues',
        'POST /v1/coupons/{id}/issues/{issueId}/cancel',
        'POST /v1/coupons/{id}/uses',
        'POST /v1/coupons/{id}/uses/{useId}/cancel',
        'GET /v1/users/{userId}/coupons',
      ];
      for (const route of contract) expect(routes, route).toContain(route);
      const issue = doc.paths['/v1/coupons/{id}/issues']?.post;
      expect(Object.keys(issue?.responses ?? {})).toEqual(expect.arrayContaining(['201', '400', '401', '404', '409']));
      expect(JSON.stringify(doc)).toContain('idempotency-key');
    });

    it('/openapi.json is generated once per app, not per request, and served the same every time', async () => {
      const generate = vi.spyOn(t.app, 'getOpenAPI31Document');
      try {
        const bodies = await Promise.all(Array.from({ length: 5 }, async () => (await t.call('GET', '/openapi.json', { token: null })).text()));
        // The app may already have built it for an earlier test: once at most, never per request.
        expect(generate.mock.calls.length).toBeLessThanOrEqual(1);
        expect(new Set(bodies).size).toBe(1);
        const again = await t.call('GET', '/openapi.json', { token: null });
        expect(again.headers.get('content-type')).toMatch(/^application\/json/);
        expect(await again.text()).toBe(bodies[0]);
        expect(generate.mock.calls.length).toBeLessThanOrEqual(1);
      } finally {
        generate.mockRestore();
      }
    });

    it('/docs serves the interactive reference as HTML', async () => {
      const res = await t.call('GET', '/docs', { token: null });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await res.text()).toContain('/openapi.json');
    });
  });

  describe('when the database is down', () => {
    it('/health answers 503 and routes answer 503 SERVICE_UNAVAILABLE without a stack trace', async () => {
      const broken = await testApp({ gauges });
      const coupon = await expectJson<CouponBody>(await broken.call('POST', '/v1/coupons', { body: { name: 'x' } }), 201);
      await broken.close();
      const health = await broken.call('GET', '/health', { token: null });
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: 'unavailable', checks: { db: 'down' } });
      const problem = await expectProblem(await broken.call('GET', `/v1/coupons/${coupon.id}`), 503, 'SERVICE_UNAVAILABLE');
      expect(problem.detail).not.toMatch(/PGlite|closed|Error/);
    });
  });
});
