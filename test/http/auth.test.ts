/**
 * Auth, table-driven over every route × {no token, wrong token, client token, admin token}:
 * admin routes 401/401/403/ok, client routes 401/401/ok/ok, system routes open to anyone.
 */
import { describe, expect, it } from 'vitest';
import { ADMIN, CLIENT, useTestApp } from '../support/app.js';
import { createDraft, createLive, expectProblem, issued, used } from '../support/fixtures.js';

useTestApp('auth', (t) => {
  interface Case {
    method: string;
    path: string;
    body?: unknown;
  }

  interface RouteSpec {
    who: 'admin' | 'client' | 'anyone';
    name: string;
    /** Prepares fresh state and names the request; `ok` is its success status. */
    prepare: () => Promise<Case>;
    ok: number;
  }

  const draftId = async () => (await createDraft(t, { issueStock: { total: 5 } })).id;
  const liveId = async () => (await createLive(t, { issueStock: { total: 5 }, useStock: { total: 5 } })).id;

  const ROUTES: RouteSpec[] = [
    { who: 'admin', name: 'POST /v1/coupons', ok: 201, prepare: async () => ({ method: 'POST', path: '/v1/coupons', body: { name: 'auth' } }) },
    { who: 'admin', name: 'GET /v1/coupons', ok: 200, prepare: async () => ({ method: 'GET', path: '/v1/coupons' }) },
    { who: 'admin', name: 'GET /v1/coupons/{id}', ok: 200, prepare: async () => ({ method: 'GET', path: `/v1/coupons/${await draftId()}` }) },
    { who: 'admin', name: 'PATCH /v1/coupons/{id}', ok: 200, prepare: async () => ({ method: 'PATCH', path: `/v1/coupons/${await draftId()}`, body: { name: 'renamed' } }) },
    { who: 'admin', name: 'DELETE /v1/coupons/{id}', ok: 204, prepare: async () => ({ method: 'DELETE', path: `/v1/coupons/${await draftId()}` }) },
    { who: 'admin', name: 'POST …/confirm', ok: 200, prepare: async () => ({ method: 'POST', path: `/v1/coupons/${await draftId()}/confirm` }) },
    { who: 'admin', name: 'POST …/pause', ok: 200, prepare: async () => ({ method: 'POST', path: `/v1/coupons/${await liveId()}/pause` }) },
    { who: 'admin', name: 'POST …/resume', ok: 200, prepare: async () => ({ method: 'POST', path: `/v1/coupons/${await liveId()}/resume` }) },
    { who: 'admin', name: 'POST …/stocks/issue/adjust', ok: 200, prepare: async () => ({ method: 'POST', path: `/v1/coupons/${await liveId()}/stocks/issue/adjust`, body: { delta: 1 } }) },
    { who: 'admin', name: 'POST …/stocks/use/adjust', ok: 200, prepare: async () => ({ method: 'POST', path: `/v1/coupons/${await liveId()}/stocks/use/adjust`, body: { delta: -1 } }) },
    { who: 'admin', name: 'POST …/stocks/sync', ok: 200, prepare: async () => ({ method: 'POST', path: `/v1/coupons/${await liveId()}/stocks/sync` }) },
    { who: 'admin', name: 'POST …/archive', ok: 200, prepare: async () => ({ method: 'POST', path: `/v1/coupons/${await liveId()}/archive` }) },
    { who: 'admin', name: 'POST …/rebuild', ok: 200, prepare: async () => ({ method: 'POST', path: `/v1/coupons/${await liveId()}/rebuild` }) },
    { who: 'admin', name: 'POST /v1/webhooks', ok: 201, prepare: async () => ({ method: 'POST', path: '/v1/webhooks', body: { url: 'https://hooks.shop.example/hook' } }) },
    { who: 'admin', name: 'GET /v1/webhooks', ok: 200, prepare: async () => ({ method: 'GET', path: '/v1/webhooks' }) },
    { who: 'admin', name: 'GET /v1/webhooks/deliveries', ok: 200, prepare: async () => ({ method: 'GET', path: '/v1/webhooks/deliveries' }) },
    {
      who: 'admin',
      name: 'DELETE /v1/webhooks/{id}',
      ok: 204,
      prepare: async () => {
        const res = await t.call('POST', '/v1/webhooks', { body: { url: 'https://hooks.shop.example/hook' } });
        return { method: 'DELETE', path: `/v1/webhooks/${String(((await res.json()) as { id: string }).id)}` };
      },
    },
    {
      who: 'client',
      name: 'POST …/holds',
      ok: 201,
      prepare: async () => {
        const id = await liveId();
        await issued(t, id, 'h1');
        return { method: 'POST', path: `/v1/coupons/${id}/holds`, body: { userId: 'h1', ownerId: 'o1', ttlSeconds: 60 } };
      },
    },
    ...(['commit', 'release'] as const).map(
      (action): RouteSpec => ({
        who: 'client',
        name: `POST …/holds/{holdId}/${action}`,
        ok: 200,
        prepare: async () => {
          const id = await liveId();
          await issued(t, id, 'h1');
          const res = await t.call('POST', `/v1/coupons/${id}/holds`, { token: CLIENT, body: { userId: 'h1', ownerId: 'o1', ttlSeconds: 60 } });
          return { method: 'POST', path: `/v1/coupons/${id}/holds/${String(((await res.json()) as { holdId: string }).holdId)}/${action}` };
        },
      }),
    ),
    { who: 'client', name: 'GET …/stocks/live', ok: 200, prepare: async () => ({ method: 'GET', path: `/v1/coupons/${await liveId()}/stocks/live` }) },
    { who: 'client', name: 'POST …/issues', ok: 201, prepare: async () => ({ method: 'POST', path: `/v1/coupons/${await liveId()}/issues`, body: { userId: 'u1' } }) },
    { who: 'client', name: 'POST …/issues:batch', ok: 200, prepare: async () => ({ method: 'POST', path: `/v1/coupons/${await liveId()}/issues:batch`, body: { userIds: ['u1', 'u2'] } }) },
    {
      who: 'client',
      name: 'POST …/issues/{issueId}/cancel',
      ok: 200,
      prepare: async () => {
        const id = await liveId();
        const { issueId } = await issued(t, id, 'u1');
        return { method: 'POST', path: `/v1/coupons/${id}/issues/${issueId}/cancel` };
      },
    },
    {
      who: 'client',
      name: 'POST …/uses',
      ok: 201,
      prepare: async () => {
        const id = await liveId();
        await issued(t, id, 'u1');
        return { method: 'POST', path: `/v1/coupons/${id}/uses`, body: { userId: 'u1', orderId: 'o-1' } };
      },
    },
    {
      who: 'client',
      name: 'POST …/uses/{useId}/cancel',
      ok: 200,
      prepare: async () => {
        const id = (await createLive(t, { useStock: { total: 5 } })).id;
        const { useId } = await used(t, id, 'u1');
        return { method: 'POST', path: `/v1/coupons/${id}/uses/${useId}/cancel` };
      },
    },
    { who: 'client', name: 'GET /v1/users/{userId}/coupons', ok: 200, prepare: async () => ({ method: 'GET', path: '/v1/users/u1/coupons' }) },
    { who: 'anyone', name: 'GET /health', ok: 200, prepare: async () => ({ method: 'GET', path: '/health' }) },
    { who: 'anyone', name: 'GET /openapi.json', ok: 200, prepare: async () => ({ method: 'GET', path: '/openapi.json' }) },
    { who: 'anyone', name: 'GET /docs', ok: 200, prepare: async () => ({ method: 'GET', path: '/docs' }) },
  ];

  const CALLERS = [
    { name: 'no token', token: null },
    { name: 'a wrong token', token: 'not-the-token' },
    { name: 'the client token', token: CLIENT },
    { name: 'the admin token', token: ADMIN },
  ] as const;

  type Caller = (typeof CALLERS)[number]['name'];

  function expected(who: RouteSpec['who'], caller: Caller, ok: number): { status: number; code?: string } {
    if (who === 'anyone') return { status: ok };
    if (caller === 'no token' || caller === 'a wrong token') return { status: 401, code: 'UNAUTHORIZED' };
    if (who === 'admin' && caller === 'the client token') return { status: 403, code: 'FORBIDDEN' };
    return { status: ok };
  }

  /** No token ever leaks into an answer: each case checks its own body (no state shared between tests). */
  const expectNoToken = (text: string) => {
    for (const token of [ADMIN, CLIENT, 'not-the-token']) expect(text).not.toContain(token);
  };

  describe.each(ROUTES)('$name ($who)', (route) => {
    it.each(CALLERS)('with $name, and no token in the answer', async (caller) => {
      const req = await route.prepare();
      const res = await t.call(req.method, req.path, { token: caller.token, body: req.body });
      const want = expected(route.who, caller.name, route.ok);
      if (want.code) {
        expectNoToken(JSON.stringify(await expectProblem(res, want.status, want.code)));
      } else {
        const text = await res.text();
        expectNoToken(text);
        expect({ status: res.status, text: text.slice(0, 300) }).toMatchObject({ status: want.status });
      }
    });
  });

  describe('bearer header', () => {
    it('refuses malformed and near-miss credentials with 401, and echoes none of them', async () => {
      const headers = [
        `Basic ${ADMIN}`,
        'Bearer',
        'Bearer ',
        `Bearer ${ADMIN}x`,
        `Bearer ${ADMIN.slice(0, -1)}`,
        `Bearer ${ADMIN} ${ADMIN}`,
        ADMIN,
        `Bearer ${'a'.repeat(600)}`,
      ];
      for (const authorization of headers) {
        const res = await t.call('GET', '/v1/coupons', { token: null, headers: { authorization } });
        expectNoToken(JSON.stringify(await expectProblem(res, 401, 'UNAUTHORIZED')));
      }
    });

    it('accepts the scheme in any case', async () => {
      const res = await t.call('GET', '/v1/coupons', { token: null, headers: { authorization: `bearer ${ADMIN}` } });
      expect(res.status).toBe(200);
    });

    it('refuses a client token on an admin route before reading the body, and changes nothing', async () => {
      const draft = await createDraft(t);
      await expectProblem(await t.call('PATCH', `/v1/coupons/${draft.id}`, { token: CLIENT, body: { name: 'hijack' } }), 403, 'FORBIDDEN');
      await expectProblem(await t.call('POST', '/v1/coupons', { token: CLIENT, body: { bogus: true } }), 403, 'FORBIDDEN');
      await expectProblem(await t.call('DELETE', `/v1/coupons/${draft.id}`, { token: CLIENT }), 403, 'FORBIDDEN');
      const res = await t.call('GET', `/v1/coupons/${draft.id}`);
      expect(((await res.json()) as { name: string }).name).toBe(draft.name);
    });
  });
});
