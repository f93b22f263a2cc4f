/**
 * The check that every response of the HTTP suites meets the OpenAPI document
 * (`test/support/openapi-contract.ts`, wired into every test app by `test/support/app.ts`):
 * it runs on both gauge configurations, for every way into the app, and it fails — a status,
 * a content type, a body or a field the document does not describe, and a route outside it.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ADMIN, CLIENT, useTestApp, testApp } from '../support/app.js';
import type { OpenApiDocument } from '../support/openapi-contract.js';

useTestApp('every response is checked against the OpenAPI document', (t) => {
  it('counts what it checked: operations, refusals outside the document, and the pages it leaves out', async () => {
    const before = { ...t.contract.counts };
    const created = await t.call('POST', '/v1/coupons', { body: { name: 'checked', issueStock: { total: 2 } } });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    expect((await t.call('POST', `/v1/coupons/${id}/confirm`)).status).toBe(200);
    expect((await t.call('POST', `/v1/coupons/${id}/issues`, { token: CLIENT, body: { userId: 'u' } })).status).toBe(201);
    expect((await t.call('GET', `/v1/coupons/${id}/stocks/live`, { token: CLIENT })).status).toBe(200);
    expect((await t.call('GET', '/health', { token: null })).status).toBe(200);
    expect((await t.app.request('/v1/coupons', { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(200);
    expect((await t.call('GET', '/v1/no-such-route')).status).toBe(404);
    expect((await t.call('GET', '/docs', { token: null })).status).toBe(200);
    expect(t.contract.counts).toEqual({ operations: before.operations + 6, outside: before.outside + 1, unchecked: before.unchecked + 1 });
    expect(t.contract.violations).toEqual([]);
  });

  it('finds the refusals every route under /v1 may answer in the document: a large body on a route that takes none', async () => {
    const created = await t.call('POST', '/v1/coupons', { body: { name: 'big body' } });
    const { id } = (await created.json()) as { id: string };
    const before = t.contract.counts.operations;
    const res = await t.call('POST', `/v1/coupons/${id}/confirm`, { body: { padding: 'x'.repeat(20 * 1024) } });
    expect(res.status).toBe(413);
    expect(t.contract.counts.operations).toBe(before + 1);
  });
});

/** The served document with one thing changed per operation, so each call below breaks it in one way. */
function tampered(doc: OpenApiDocument): OpenApiDocument {
  type Op = { responses: Record<string, { content?: Record<string, unknown> }> };
  const op = (path: string, method: string) => doc.paths[path]?.[method] as Op;
  const schemas = doc.components?.schemas as Record<string, { required?: string[]; properties?: Record<string, unknown> }>;
  // A status it does not list: GET /v1/coupons/{id} without its 200.
  delete op('/v1/coupons/{id}', 'get').responses['200'];
  // A content type it does not list: the list's 200 as another media type.
  const list = op('/v1/coupons', 'get').responses['200'];
  if (list?.content) list.content = { 'application/vnd.coupon-stock+json': list.content['application/json'] };
  // A body that misses a required field: Live requiring one the service never sends.
  const live = schemas.Live;
  if (live?.properties && live.required) {
    live.properties.neverSent = { type: 'string' };
    live.required.push('neverSent');
  }
  // A field it does not describe: Health without `checks`.
  const health = schemas.Health;
  if (health?.properties && health.required) {
    delete health.properties.checks;
    health.required = health.required.filter((name) => name !== 'checks');
  }
  // A route outside it that answers 200.
  delete doc.paths['/v1/users/{userId}/coupons'];
  return doc;
}

describe('a response that breaks the document fails the request', () => {
  it('for an undocumented status, content type, missing field, extra field and route', { timeout: 60_000 }, async () => {
    const t = await testApp({ openapi: tampered });
    let closed = false;
    try {
      // Untouched operations still pass.
      const created = await t.call('POST', '/v1/coupons', { body: { name: 'tampered' } });
      const { id } = (await created.json()) as { id: string };
      await t.call('POST', `/v1/coupons/${id}/confirm`);

      await expect(t.call('GET', `/v1/coupons/${id}`)).rejects.toThrow(/GET \/v1\/coupons\/\S+ → 200: 200 is not documented for GET \/v1\/coupons\/\{id\} \(getCoupon\)/);
      await expect(t.call('GET', '/v1/coupons')).rejects.toThrow(/content type "application\/json" is not documented for GET \/v1\/coupons \(listCoupons\) 200/);
      await expect(t.call('GET', `/v1/coupons/${id}/stocks/live`)).rejects.toThrow(/body does not match the schema of GET .*\(getLiveStocks\) 200 application\/json: body must have required property 'neverSent'/);
      await expect(t.call('GET', '/health', { token: null })).rejects.toThrow(/\(getHealth\) 200 application\/json: body must NOT have unevaluated properties/);
      await expect(t.call('GET', '/v1/users/u/coupons')).rejects.toThrow(/GET \/v1\/users\/u\/coupons is not in the document, yet answered 200/);
      expect(t.contract.violations).toHaveLength(5);

      // Served over HTTP (as the typed client's test serves it), the client sees a 500 and the app's close names the violation.
      const server = await new Promise<ServerType>((resolve) => {
        const s = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
      });
      try {
        const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/health`);
        expect(res.status).toBe(500);
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      expect(t.contract.violations).toHaveLength(6);
      closed = true;
      await expect(t.close()).rejects.toThrow(/responses broke the OpenAPI document:\n[\s\S]*getHealth/);
    } finally {
      if (!closed) await t.close().catch(() => {});
    }
  });
});
