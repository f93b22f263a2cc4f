/**
 * Bulk issue, `POST /v1/coupons/{id}/issues:batch`, through the HTTP API on the Postgres gauge:
 * per-item results in order, each item all or nothing and exactly once per Idempotency-Key,
 * coupon-level refusals for the whole batch, validation and size limits that change nothing.
 */
import { describe, expect, it } from 'vitest';
import { ADMIN, CLIENT, useTestApp } from '../support/app.js';
import { createDraft, createLive, expectJson, expectProblem, issued, live, sync, UNKNOWN_COUPON } from '../support/fixtures.js';
import type { BatchIssueReportJson } from '../../src/http/schemas.js';

useTestApp('batch', (t) => {
  type Result = BatchIssueReportJson['results'][number];
  /** An item as the tests read it: either answer's fields, absent where the other answer has them. */
  type Item = Pick<Result, 'userId' | 'status'> & Partial<Omit<Extract<Result, { issueId: string }>, 'status'>> & Partial<Omit<Extract<Result, { code: string }>, 'status'>>;
  type Report = Omit<BatchIssueReportJson, 'results'> & { results: Item[] };

  const batch = (couponId: string, body: unknown, key?: string, token: string | null = CLIENT) =>
    t.call('POST', `/v1/coupons/${couponId}/issues:batch`, { token, body, headers: key === undefined ? {} : { 'idempotency-key': key } });
  const report = async (couponId: string, userIds: string[], key?: string) => expectJson<Report>(await batch(couponId, { userIds }, key), 200);
  const users = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}-${i}`);

  describe('POST /v1/coupons/{id}/issues:batch', () => {
    it('answers one result per user id, in order, each taken all or nothing', async () => {
      const coupon = await createLive(t, { issueStock: { total: 5 }, perUserIssueLimit: 1 });
      const out = await report(coupon.id, ['a', 'b', 'c', 'a', 'd', 'e', 'f']);
      expect(out).toMatchObject({ couponId: coupon.id, issued: 5, refused: 2 });
      expect(out.results.map((r) => [r.userId, r.status, r.code ?? r.remain])).toEqual([
        ['a', 201, 4],
        ['b', 201, 3],
        ['c', 201, 2],
        ['a', 409, 'USER_LIMIT_REACHED'],
        ['d', 201, 1],
        ['e', 201, 0],
        ['f', 409, 'SOLD_OUT'],
      ]);
      for (const r of out.results.filter((r) => r.status === 201)) expect(r).toEqual({ userId: r.userId, status: 201, issueId: expect.stringMatching(/^iss_/), remain: r.remain, replayed: false });
      expect(new Set(out.results.map((r) => r.issueId).filter(Boolean)).size).toBe(5);
      expect(await live(t, coupon.id)).toEqual({ issue: { total: 5, remain: 0 }, use: null });
      const books = await sync(t, coupon.id);
      expect(books.issue).toMatchObject({ total: 5, remain: 0, ledger: 5, drift: 0 });
      // A refused item took nothing: the user limit was not charged for 'f'.
      const holdings = await expectJson<{ coupons: { issued: number }[] }>(await t.call('GET', '/v1/users/f/coupons', { token: CLIENT }), 200);
      expect(holdings.coupons).toEqual([]);
    });

    it('issues a repeated user again when the limits allow it', async () => {
      const coupon = await createLive(t, { issueStock: { total: 10 }, perUserIssueLimit: 3 });
      const out = await report(coupon.id, ['a', 'a', 'a', 'a']);
      expect(out.results.map((r) => r.code ?? r.status)).toEqual([201, 201, 201, 'USER_LIMIT_REACHED']);
    });

    it('replays every item of a retried batch with the same key: same ids, nothing taken twice', async () => {
      const coupon = await createLive(t, { issueStock: { total: 100 } });
      const first = await report(coupon.id, ['a', 'b', 'a'], 'bulk-1');
      const again = await report(coupon.id, ['a', 'b', 'a'], 'bulk-1');
      expect(again.results.map((r) => [r.issueId, r.replayed])).toEqual(first.results.map((r) => [r.issueId, true]));
      expect(again.results.map((r) => r.remain)).toEqual(first.results.map((r) => r.remain));
      expect(await live(t, coupon.id)).toEqual({ issue: { total: 100, remain: 97 }, use: null });
      // Another key is another batch.
      const other = await report(coupon.id, ['a'], 'bulk-2');
      expect(other.results[0]).toMatchObject({ status: 201, replayed: false });
      expect(other.results[0]?.issueId).not.toBe(first.results[0]?.issueId);
    });

    it('runs again, on retry, only the items that were refused; a part of the batch replays its items', async () => {
      const coupon = await createLive(t, { issueStock: { total: 1 } });
      const first = await report(coupon.id, ['x', 'y'], 'retry-1');
      expect(first.results.map((r) => r.code ?? r.status)).toEqual([201, 'SOLD_OUT']);
      await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/stocks/issue/adjust`, { body: { delta: 1 } }), 200);
      const retry = await report(coupon.id, ['x', 'y'], 'retry-1');
      expect(retry.results.map((r) => [r.status, r.replayed])).toEqual([
        [201, true],
        [201, false],
      ]);
      expect(retry.results[0]?.issueId).toBe(first.results[0]?.issueId);
      const part = await report(coupon.id, ['y'], 'retry-1');
      expect(part.results[0]).toMatchObject({ issueId: retry.results[1]?.issueId, replayed: true });
      expect(await live(t, coupon.id)).toEqual({ issue: { total: 2, remain: 0 }, use: null });
    });

    it('keeps batch keys apart from single-issue keys and from other callers', async () => {
      const coupon = await createLive(t, { issueStock: { total: 10 } });
      const single = await issued(t, coupon.id, 'a', { key: 'shared-key' });
      const bulk = await report(coupon.id, ['a'], 'shared-key');
      expect(bulk.results[0]).toMatchObject({ status: 201, replayed: false });
      expect(bulk.results[0]?.issueId).not.toBe(single.issueId);
      const admin = await expectJson<Report>(await batch(coupon.id, { userIds: ['a'] }, 'shared-key', ADMIN), 200);
      expect(admin.results[0]).toMatchObject({ status: 201, replayed: false });
    });

    // 1,000 takes in one request: on PGlite, one transaction after another, ~20 s on 2 busy cores.
    it('issues exactly the stock out of 1,000 users in one request', { timeout: 90_000 }, async () => {
      const coupon = await createLive(t, { issueStock: { total: 250 }, perUserIssueLimit: 1 });
      const out = await report(coupon.id, users(1000, 'bulk'), 'big-1');
      expect(out.issued).toBe(250);
      expect(out.refused).toBe(750);
      expect(out.results.slice(0, 250).every((r) => r.status === 201)).toBe(true);
      expect(out.results.slice(250).every((r) => r.code === 'SOLD_OUT')).toBe(true);
      expect((await sync(t, coupon.id)).issue).toMatchObject({ remain: 0, ledger: 250, drift: 0 });
    });

    it('refuses the whole batch for a reason of the coupon: unknown, draft, paused', async () => {
      await expectProblem(await batch(UNKNOWN_COUPON, { userIds: ['a', 'b'] }), 404, 'NOT_FOUND');
      await expectProblem(await batch('not-an-id', { userIds: ['a'] }), 404, 'NOT_FOUND');
      const draft = await createDraft(t, { issueStock: { total: 5 } });
      await expectProblem(await batch(draft.id, { userIds: ['a', 'b'] }), 409, 'NOT_ACTIVE');
      const paused = await createLive(t, { issueStock: { total: 5 } });
      await expectJson(await t.call('POST', `/v1/coupons/${paused.id}/pause`), 200);
      await expectProblem(await batch(paused.id, { userIds: ['a'] }), 409, 'NOT_ACTIVE');
      expect(await live(t, paused.id)).toEqual({ issue: { total: 5, remain: 5 }, use: null });
    });

    it('validates the body, lists every problem, and takes nothing', async () => {
      const coupon = await createLive(t, { issueStock: { total: 5 } });
      for (const body of [{}, { userIds: [] }, { userIds: 'a' }, { userIds: ['a', 7] }, { userIds: ['a', ''] }, { userIds: ['a'], extra: 1 }, { userIds: users(1001, 'v') }, { userIds: ['a\u0000b'] }]) {
        const problem = await expectProblem(await batch(coupon.id, body), 400, 'VALIDATION_FAILED');
        expect(problem.errors?.length).toBeGreaterThan(0);
      }
      await expectProblem(await batch(coupon.id, { userIds: ['a'] }, ''), 400, 'VALIDATION_FAILED');
      expect(await live(t, coupon.id)).toEqual({ issue: { total: 5, remain: 5 }, use: null });
    });

    it('takes 1,000 user ids of 128 characters, and refuses a body over 1 MiB with 413', { timeout: 90_000 }, async () => {
      const coupon = await createLive(t, { issueStock: { total: 2 } });
      const long = Array.from({ length: 1000 }, (_, i) => `${String(i).padStart(4, '0')}${'x'.repeat(124)}`);
      const out = await report(coupon.id, long);
      expect(out).toMatchObject({ issued: 2, refused: 998 });
      await expectProblem(await batch(coupon.id, JSON.stringify({ userIds: ['a'], pad: 'x'.repeat(1024 * 1024) })), 413, 'PAYLOAD_TOO_LARGE');
      // The single-issue route keeps its own small limit.
      await expectProblem(await t.call('POST', `/v1/coupons/${coupon.id}/issues`, { token: CLIENT, body: { userId: 'x'.repeat(20_000) } }), 413, 'PAYLOAD_TOO_LARGE');
    });

    it('needs a token; the client token may call it; it is in the OpenAPI document under its public path', async () => {
      const coupon = await createLive(t, { issueStock: { total: 5 } });
      await expectProblem(await batch(coupon.id, { userIds: ['a'] }, undefined, null), 401, 'UNAUTHORIZED');
      await expectProblem(await batch(coupon.id, { userIds: ['a'] }, undefined, 'wrong-token-0123456789'), 401, 'UNAUTHORIZED');
      const doc = await expectJson<{ paths: Record<string, Record<string, { parameters?: { name: string }[] }>> }>(await t.call('GET', '/openapi.json', { token: null }), 200);
      const path = doc.paths['/v1/coupons/{id}/issues:batch'];
      expect(path?.post?.parameters?.map((p) => p.name).sort()).toEqual(['id', 'idempotency-key']);
      expect(Object.keys(doc.paths).filter((p) => p.includes('op'))).toEqual([]);
      // Only the exact path: neither an encoded colon nor a look-alike reaches it.
      for (const look of ['issues%3Abatch', 'issuesXbatch', 'issues:batchx', 'issues:Batch']) {
        expect((await t.call('POST', `/v1/coupons/${coupon.id}/${look}`, { token: CLIENT, body: { userIds: ['a'] } })).status).toBe(404);
      }
      expect(await live(t, coupon.id)).toEqual({ issue: { total: 5, remain: 5 }, use: null });
    });
  });
});
