/**
 * The admin page's security through `app.request()`: who gets in (cookie login, bearer), what
 * the cookie looks like, CSRF and cross-origin refusals that change nothing, escaping, headers.
 */
import { describe, expect, it } from 'vitest';
import { AdminSecrets, SESSION_SECONDS } from '../../src/http/admin/secrets.js';
import { createApp } from '../../src/http/app.js';
import { ADMIN, CLIENT, useTestApp } from '../support/app.js';
import { cookieOf, csrfFor, follow, getPage, login, ORIGIN, pageHtml, postLogin, submit } from '../support/admin-page.js';
import { createDraft, expectJson, getCoupon, type CouponBody } from '../support/fixtures.js';

useTestApp('admin-page', (t) => {
  const CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

  describe('getting in', () => {
    it('sends a visitor without credentials to the login form, which is served with the CSP', async () => {
      const res = await t.app.request('/admin');
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/admin/login');
      const form = await t.app.request('/admin/login');
      expect(form.status).toBe(200);
      expect(form.headers.get('content-security-policy')).toBe(CSP);
      expect(await form.text()).toContain('<form method="post" action="/admin/login">');
    });

    it('refuses a wrong token (401) and the client token (403) without setting a cookie', async () => {
      for (const [token, status] of [['not-the-token-at-all', 401], ['', 401], [CLIENT, 403]] as const) {
        const res = await postLogin(t, token);
        expect(res.status, token).toBe(status);
        expect(res.headers.get('set-cookie'), token).toBeNull();
        expect(await res.text()).toContain('<form method="post" action="/admin/login">');
      }
    });

    it('logs in with the admin token: an HttpOnly, SameSite=Strict cookie on /admin that does not hold the token', async () => {
      const res = await postLogin(t, ADMIN);
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/admin');
      const header = res.headers.get('set-cookie') ?? '';
      expect(header).toMatch(/; HttpOnly/);
      expect(header).toMatch(/; SameSite=Strict/);
      expect(header).toMatch(/; Path=\/admin(;|$)/);
      expect(header).toMatch(/; Max-Age=\d+/);
      expect(header).not.toMatch(/Secure/);
      expect(header).not.toContain(ADMIN);
      expect(header).not.toContain(encodeURIComponent(ADMIN));
      expect(await pageHtml(t, cookieOf(res))).toContain('coupon-stock admin');
    });

    it('marks the cookie Secure when served over https, directly or behind a TLS proxy', async () => {
      const direct = await postLogin(t, ADMIN, { url: 'https://coupons.example/admin/login', headers: { origin: 'https://coupons.example' } });
      expect(direct.status).toBe(303);
      expect(direct.headers.get('set-cookie')).toMatch(/; Secure/);
      const proxied = await postLogin(t, ADMIN, { headers: { 'x-forwarded-proto': 'https', origin: 'https://localhost' } });
      expect(proxied.status).toBe(303);
      expect(proxied.headers.get('set-cookie')).toMatch(/; Secure/);
    });

    it('accepts Authorization: Bearer with the admin token; refuses the client token (403) and a wrong one (401)', async () => {
      const ok = await t.call('GET', '/admin');
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('coupon-stock admin');
      expect((await t.call('GET', '/admin', { token: CLIENT })).status).toBe(403);
      expect((await t.call('GET', '/admin', { token: 'wrong-token-0123456789' })).status).toBe(401);
    });

    it('refuses a tampered or expired cookie and sends the browser back to the login form', async () => {
      const cookie = await login(t);
      const tampered = `${cookie.slice(0, -2)}${cookie.endsWith('AA') ? 'BB' : 'AA'}`;
      const secrets = new AdminSecrets(ADMIN);
      const expired = `cs_admin=${await secrets.newSession(Date.now() - (SESSION_SECONDS + 60) * 1000)}`;
      for (const bad of [tampered, expired, 'cs_admin=admin', `cs_admin=${ADMIN}`]) {
        const res = await getPage(t, bad);
        expect(res.status, bad).toBe(303);
        expect(res.headers.get('location')).toBe('/admin/login');
        expect(res.headers.get('set-cookie'), bad).toMatch(/^cs_admin=; Max-Age=0; Path=\/admin/);
      }
    });

    it('logs out: the cookie is cleared with the same attributes', async () => {
      const cookie = await login(t);
      const res = await submit(t, cookie, '/admin/logout', { csrf: csrfFor(await pageHtml(t, cookie), '/admin/logout') });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/admin/login?out=1');
      expect(res.headers.get('set-cookie')).toMatch(/^cs_admin=; Max-Age=0; Path=\/admin; HttpOnly; SameSite=Strict/);
    });
  });

  describe('forged requests', () => {
    /** A session, a draft to aim at, and the page it sees: each test makes its own. */
    const target = async () => {
      const cookie = await login(t);
      const draft = await createDraft(t, { name: 'forgery target', issueStock: { total: 5 } });
      const html = await pageHtml(t, cookie);
      const confirmPath = `/admin/coupons/${draft.id}/confirm`;
      return { cookie, draft, html, confirmPath, csrf: csrfFor(html, confirmPath) };
    };
    const statusOf = async (draft: CouponBody) => (await getCoupon(t, draft.id)).status;

    it('refuses a POST without, with a wrong, or with another action’s CSRF token (403) and changes nothing', async () => {
      const { cookie, draft, html, confirmPath } = await target();
      const otherSession = await login(t);
      const foreign = csrfFor(await pageHtml(t, otherSession), confirmPath);
      const forms: Record<string, string>[] = [{}, { csrf: 'x'.repeat(43) }, { csrf: csrfFor(html, `/admin/coupons/${draft.id}/delete`) }, { csrf: foreign }];
      for (const fields of forms) {
        const res = await submit(t, cookie, confirmPath, fields);
        expect(res.status, JSON.stringify(fields)).toBe(403);
        expect(await res.text()).toContain('Form expired');
      }
      const created = await submit(t, cookie, '/admin/coupons', { name: 'forged create' });
      expect(created.status).toBe(403);
      expect(await statusOf(draft)).toBe('draft');
      expect(await pageHtml(t, cookie)).not.toContain('forged create');
    });

    it('refuses a cross-origin or cross-site POST even with a valid token (403) and changes nothing', async () => {
      const { cookie, draft, confirmPath, csrf } = await target();
      const forged: Record<string, string>[] = [
        { origin: 'https://evil.example' },
        { origin: 'null' },
        { origin: 'http://localhost:8080' },
        { 'sec-fetch-site': 'same-site' },
        { 'sec-fetch-site': 'cross-site' },
        // A browser that sends no Origin still says where the request came from.
        { origin: '', 'sec-fetch-site': 'cross-site' },
      ];
      for (const headers of forged) {
        const res = await submit(t, cookie, confirmPath, { csrf }, headers);
        expect(res.status, JSON.stringify(headers)).toBe(403);
        expect(await res.text(), JSON.stringify(headers)).toContain('Cross-origin request refused');
      }
      expect((await postLogin(t, ADMIN, { headers: { origin: 'https://evil.example' } })).status).toBe(403);
      expect((await postLogin(t, ADMIN, { headers: { 'sec-fetch-site': 'cross-site' } })).status).toBe(403);
      expect(await statusOf(draft)).toBe('draft');
    });

    it('refuses a POST without any credentials (401)', async () => {
      const { draft, confirmPath, csrf } = await target();
      const res = await submit(t, '', confirmPath, { csrf });
      expect(res.status).toBe(401);
      expect(await statusOf(draft)).toBe('draft');
    });

    it('refuses a POST with a tampered or expired cookie (401), clears the cookie, and changes nothing', async () => {
      const { cookie, draft, confirmPath, csrf } = await target();
      const [id, expires] = (cookie.split('=')[1] ?? '').split('.');
      const secrets = new AdminSecrets(ADMIN);
      const later = String(Number(expires) + 3_600);
      const bad = [
        `${cookie.slice(0, -2)}${cookie.endsWith('AA') ? 'BB' : 'AA'}`, // the MAC
        `cs_admin=${id}.${later}.${(cookie.split('.')[2] ?? '')}`, // a longer life under the old MAC
        `cs_admin=${await secrets.newSession(Date.now() - (SESSION_SECONDS + 60) * 1000)}`, // expired
      ];
      for (const forged of bad) {
        const res = await submit(t, forged, confirmPath, { csrf });
        expect(res.status, forged).toBe(401);
        expect(await res.text()).toContain('Your session has ended');
        expect(res.headers.get('set-cookie'), forged).toMatch(/^cs_admin=; Max-Age=0; Path=\/admin/);
      }
      expect(await statusOf(draft)).toBe('draft');
    });

    it('lets a script with the admin bearer token post without a CSRF token (a browser cannot forge that header)', async () => {
      const { draft, confirmPath } = await target();
      const res = await t.call('POST', confirmPath, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
      expect(res.status).toBe(303);
      expect(await statusOf(draft)).toBe('confirmed');
      const client = await t.call('POST', `/admin/coupons/${draft.id}/pause`, { token: CLIENT, body: '' });
      expect(client.status).toBe(403);
      expect(await statusOf(draft)).toBe('confirmed');
    });

    it('refuses a bearer POST from a foreign origin or another site (403), even with the admin token', async () => {
      const { draft, confirmPath } = await target();
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const foreign: Record<string, string>[] = [{ origin: 'https://evil.example' }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }];
      for (const headers of foreign) {
        const res = await t.call('POST', confirmPath, { headers: { ...form, ...headers }, body: '' });
        expect(res.status, JSON.stringify(headers)).toBe(403);
      }
      expect(await statusOf(draft)).toBe('draft');
      // The same script from this origin goes through.
      expect((await t.call('POST', confirmPath, { headers: { ...form, origin: 'http://localhost' }, body: '' })).status).toBe(303);
      expect(await statusOf(draft)).toBe('confirmed');
    });

    it('judges a bearer header on its own, never falling back to a valid cookie next to it', async () => {
      const { cookie, draft, confirmPath, csrf } = await target();
      const beside = (authorization: string) => submit(t, cookie, confirmPath, { csrf }, { authorization });
      expect((await beside('Bearer not-the-admin-token-at-all')).status).toBe(401);
      expect((await beside('Basic abc')).status).toBe(401);
      expect((await beside(`Bearer ${CLIENT}`)).status).toBe(403);
      expect(await statusOf(draft)).toBe('draft');
      // The admin bearer acts as a script would: no CSRF token needed, the cookie plays no part.
      const res = await submit(t, 'cs_admin=garbage', confirmPath, {}, { authorization: `Bearer ${ADMIN}` });
      expect(res.status).toBe(303);
      expect(await statusOf(draft)).toBe('confirmed');
    });

    it('ends every session and voids every rendered form when the admin token is rotated', async () => {
      const { cookie, draft, confirmPath, csrf } = await target();
      const ROTATED = 'rotated-admin-token-0123456789';
      const rotated = createApp({ tokens: { admin: ROTATED, client: CLIENT }, info: { runtime: 'node', db: 'postgres' }, deps: () => ({ deps: t.deps }), log: () => {} });
      const send = (path: string, init: RequestInit = {}) => Promise.resolve(rotated.request(path, init));
      const page = await send('/admin', { headers: { cookie } });
      expect(page.status).toBe(303);
      expect(page.headers.get('location')).toBe('/admin/login');
      expect(page.headers.get('set-cookie')).toMatch(/^cs_admin=; Max-Age=0; Path=\/admin/);
      const posted = await send(confirmPath, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, cookie },
        body: new URLSearchParams({ csrf }).toString(),
      });
      expect(posted.status).toBe(401);
      expect(await statusOf(draft)).toBe('draft');
      // The old token no longer logs in; the new one does, and its session's forms work there only.
      const login = (token: string) =>
        send('/admin/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN }, body: new URLSearchParams({ token }).toString() });
      expect((await login(ADMIN)).status).toBe(401);
      const fresh = cookieOf(await login(ROTATED));
      expect((await getPage(t, fresh)).status).toBe(303); // the old app does not know the new session
      expect((await send('/admin', { headers: { cookie: fresh } })).status).toBe(200);
    });

    it('reads the first value of a list-valued X-Forwarded-Proto: the protocol the client used', async () => {
      const secure = (res: Response) => /; Secure/.test(res.headers.get('set-cookie') ?? '');
      // Client --https--> edge proxy --http--> inner proxy --> app: served over https.
      const viaTls = await postLogin(t, ADMIN, { headers: { 'x-forwarded-proto': 'https, http', origin: 'https://localhost' } });
      expect(viaTls.status).toBe(303);
      expect(secure(viaTls)).toBe(true);
      expect(secure(await postLogin(t, ADMIN, { headers: { 'x-forwarded-proto': ' HTTPS ,http', origin: 'https://localhost' } }))).toBe(true);
      // Client --http--> edge: plain http, whatever a later hop says; an https origin is then foreign.
      const plain = await postLogin(t, ADMIN, { headers: { 'x-forwarded-proto': 'http, https' } });
      expect(plain.status).toBe(303);
      expect(secure(plain)).toBe(false);
      expect((await postLogin(t, ADMIN, { headers: { 'x-forwarded-proto': 'http, https', origin: 'https://localhost' } })).status).toBe(403);
      // Behind TLS, a form posted from the https origin acts; from the http one it does not.
      const { draft, confirmPath } = await target();
      const cookie = cookieOf(viaTls);
      const csrf = csrfFor(await pageHtml(t, cookie), confirmPath);
      const proxied = (origin: string) => submit(t, cookie, confirmPath, { csrf }, { 'x-forwarded-proto': 'https, http', origin });
      expect((await proxied('https://evil.example')).status).toBe(403);
      expect(await statusOf(draft)).toBe('draft');
      expect((await proxied('https://localhost')).status).toBe(303);
      expect(await statusOf(draft)).toBe('confirmed');
    });

    it('ignores a flash message that this server did not sign', async () => {
      const cookie = await login(t);
      const forged = Buffer.from(JSON.stringify({ kind: 'error', text: 'Call +1 555 0100 now' })).toString('base64url');
      expect(await pageHtml(t, cookie, `/admin?flash=${forged}&sig=${'A'.repeat(43)}`)).not.toContain('555 0100');
    });
  });

  describe('what the page shows', () => {
    it('escapes a coupon name everywhere, in the list and in the flash', async () => {
      const name = '<script>alert(1)</script>';
      const cookie = await login(t);
      await createDraft(t, { name });
      const created = await follow(t, cookie, await submit(t, cookie, '/admin/coupons', { csrf: csrfFor(await pageHtml(t, cookie), '/admin/coupons'), name }));
      expect(created).not.toContain(name);
      expect(created).not.toMatch(/<script/i);
      expect(created.split('&lt;script&gt;alert(1)&lt;/script&gt;').length).toBeGreaterThanOrEqual(4);
    });

    it('sends the CSP and no-store on the page and its redirects, and keeps /admin out of the OpenAPI document', async () => {
      const res = await t.call('GET', '/admin');
      expect(res.headers.get('content-security-policy')).toBe(CSP);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      // Not no-referrer: under it Chromium sends Origin: null on the page's own posts.
      expect(res.headers.get('referrer-policy')).toBe('same-origin');
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const redirect = await t.app.request('/admin');
      expect(redirect.headers.get('content-security-policy')).toBe(CSP);
      const doc = await expectJson<{ paths: Record<string, unknown> }>(await t.app.request('/openapi.json'), 200);
      expect(Object.keys(doc.paths).filter((p) => p.startsWith('/admin'))).toEqual([]);
    });

    it('limits form bodies like API bodies (413)', async () => {
      const cookie = await login(t);
      const res = await submit(t, cookie, '/admin/coupons', { name: 'x'.repeat(20_000) });
      expect(res.status).toBe(413);
    });
  });
});
