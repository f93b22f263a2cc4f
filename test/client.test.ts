/**
 * The typed client (`src/client/`): its generated types match the document the app serves
 * (a route changed without `npm run client:generate` fails here), and the README's whole curl
 * flow runs through it against the app served over HTTP on 127.0.0.1: create, confirm, issue
 * and its replay under the same Idempotency-Key, use, cancel the use, cancel the issue, live,
 * sync, a batch issue, and refusals read through the typed problem body.
 */
import { serve, type ServerType } from '@hono/node-server';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_SCHEMA, generateClientSchema } from '../scripts/client/generate.js';
import { createCouponStockClient, type CouponStockClient, type ProblemCode } from '../src/client/index.js';
import { ADMIN, CLIENT, testApp, type TestApp } from './support/app.js';

let t: TestApp;
let server: ServerType;
let admin: CouponStockClient;
let client: CouponStockClient;

beforeAll(async () => {
  t = await testApp();
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  admin = createCouponStockClient({ baseUrl, token: ADMIN });
  client = createCouponStockClient({ baseUrl, token: CLIENT });
}, 60_000);

afterAll(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await t?.close();
});

describe('the generated types', () => {
  it('are what `npm run client:generate` writes from the current /openapi.json', async () => {
    const committed = await readFile(CLIENT_SCHEMA, 'utf8');
    // On a mismatch: run `npm run client:generate` and commit src/client/schema.d.ts.
    expect(await generateClientSchema()).toBe(committed);
  }, 60_000);
});

describe("the README's flash sale through the typed client", () => {
  it('creates, confirms, issues (and replays), uses, cancels, reads live, syncs and issues in bulk', async () => {
    // 1. A draft: 1,000 to hand out, 1 per user, usable by 800 orders.
    const created = await admin.POST('/v1/coupons', {
      body: { name: 'Black Friday 30%', issueStock: { total: 1000 }, useStock: { total: 800 }, perUserIssueLimit: 1 },
    });
    expect(created.response.status).toBe(201);
    if (!created.data) throw new Error(`create refused: ${created.error?.code}`);
    const id = created.data.id;
    expect(created.data.status).toBe('draft');

    // 2. Confirm.
    const confirmed = await admin.POST('/v1/coupons/{id}/confirm', { params: { path: { id } } });
    expect(confirmed.data?.status).toBe('confirmed');

    // 3. Issue to alice; the retry with the same key replays the first answer, nothing taken twice.
    const issue = () =>
      client.POST('/v1/coupons/{id}/issues', {
        params: { path: { id }, header: { 'idempotency-key': 'issue-alice-1' } },
        body: { userId: 'alice' },
      });
    const first = await issue();
    expect(first.response.status).toBe(201);
    if (!first.data) throw new Error(`issue refused: ${first.error?.code}`);
    expect(first.data).toMatchObject({ couponId: id, userId: 'alice', remain: 999 });
    const retry = await issue();
    expect(retry.response.status).toBe(201);
    expect(retry.data).toEqual(first.data);
    const issueId = first.data.issueId;

    // A second issue to alice under a new key: a typed refusal, the take is not repeated.
    const again = await client.POST('/v1/coupons/{id}/issues', {
      params: { path: { id }, header: { 'idempotency-key': 'issue-alice-2' } },
      body: { userId: 'alice' },
    });
    expect(again.data).toBeUndefined();
    expect(again.response.status).toBe(409);
    const code: ProblemCode | undefined = again.error?.code;
    expect(code).toBe('USER_LIMIT_REACHED');
    expect(again.error).toMatchObject({ status: 409, type: expect.any(String), requestId: expect.any(String) });

    // 4. Use it at checkout.
    const used = await client.POST('/v1/coupons/{id}/uses', {
      params: { path: { id }, header: { 'idempotency-key': 'order-7781' } },
      body: { userId: 'alice', orderId: 'order-7781' },
    });
    expect(used.response.status).toBe(201);
    if (!used.data) throw new Error(`use refused: ${used.error?.code}`);
    expect(used.data).toMatchObject({ couponId: id, userId: 'alice', remain: 799 });

    // An issue whose coupon is used cannot be cancelled: typed 409 ALREADY_USED.
    const early = await client.POST('/v1/coupons/{id}/issues/{issueId}/cancel', { params: { path: { id, issueId } } });
    expect(early.response.status).toBe(409);
    expect(early.error?.code).toBe('ALREADY_USED');

    // 5. The order is cancelled: the use comes back once, however often; then the issue.
    for (let i = 0; i < 2; i++) {
      const cancelled = await client.POST('/v1/coupons/{id}/uses/{useId}/cancel', { params: { path: { id, useId: used.data.useId } } });
      expect(cancelled.response.ok).toBe(true);
    }
    const cancelledIssue = await client.POST('/v1/coupons/{id}/issues/{issueId}/cancel', { params: { path: { id, issueId } } });
    expect(cancelledIssue.response.ok).toBe(true);

    // 6. Live numbers, then a sync: every take was given back, and the books agree.
    const live = await client.GET('/v1/coupons/{id}/stocks/live', { params: { path: { id } } });
    expect(live.data?.issue).toMatchObject({ total: 1000, remain: 1000 });
    expect(live.data?.use).toMatchObject({ total: 800, remain: 800 });
    const synced = await admin.POST('/v1/coupons/{id}/stocks/sync', { params: { path: { id } } });
    expect(synced.response.status).toBe(200);
    expect(synced.data?.issue).toMatchObject({ total: 1000, remain: 1000, drift: 0 });
    expect(synced.data?.drifted).toEqual([]);

    // 7. Many users at once: one result per user id, in order; bob's second is refused.
    const batch = await client.POST('/v1/coupons/{id}/issues:batch', {
      params: { path: { id }, header: { 'idempotency-key': 'newsletter-2026-12' } },
      body: { userIds: ['bob', 'carol', 'bob'] },
    });
    expect(batch.response.status).toBe(200);
    expect(batch.data).toMatchObject({ couponId: id, issued: 2, refused: 1 });
    expect(batch.data?.results.map((r) => [r.userId, r.status])).toEqual([
      ['bob', 201],
      ['carol', 201],
      ['bob', 409],
    ]);
    expect(batch.data?.results[2]).toMatchObject({ code: 'USER_LIMIT_REACHED' });

    // What alice holds now: her issue, cancelled.
    const holdings = await client.GET('/v1/users/{userId}/coupons', { params: { path: { userId: 'alice' } } });
    expect(holdings.response.status).toBe(200);
  });

  it('reads a sell-out and a reused key as typed problems', async () => {
    const created = await admin.POST('/v1/coupons', { body: { name: 'Last one', issueStock: { total: 1 } } });
    if (!created.data) throw new Error(`create refused: ${created.error?.code}`);
    const id = created.data.id;
    await admin.POST('/v1/coupons/{id}/confirm', { params: { path: { id } } });
    const issue = (userId: string, key: string) =>
      client.POST('/v1/coupons/{id}/issues', { params: { path: { id }, header: { 'idempotency-key': key } }, body: { userId } });
    expect((await issue('ann', 'k-ann')).response.status).toBe(201);
    const soldOut = await issue('ben', 'k-ben');
    expect(soldOut.response.status).toBe(409);
    expect(soldOut.error?.code).toBe('SOLD_OUT');
    // The key of ann's success, with another body: refused, never replayed as ben's.
    const reused = await issue('ben', 'k-ann');
    expect(reused.error?.code).toBe('IDEMPOTENCY_KEY_REUSED');
    // The client token on an admin route: typed 403.
    const forbidden = await client.GET('/v1/coupons/{id}', { params: { path: { id } } });
    expect(forbidden.response.status).toBe(403);
    expect(forbidden.error?.code).toBe('FORBIDDEN');
  });
});
