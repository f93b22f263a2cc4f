/**
 * The admin page's security through `app.request()`: who gets in (cookie login, bearer), what
 * the cookie looks like, CSRF and cross-origin refusals that change nothing, escaping, headers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminSecrets, SESSION_SECONDS } from '../../src/http/admin/secrets.js';
import { ADMIN, CLIENT, testApp, type TestApp } from '../support/app.js';
import { cookieOf, csrfFor, follow, getPage, login, pageHtml, postLogin, submit } from '../support/admin-page.js';
import { createDraft, expectJson, getCoupon, type CouponBody } from '../support/fixtures.js';

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(() => t.close());

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
  let cookie: string;
  let draft: CouponBody;
  let html: string;
  beforeAll(async () => {
    cookie = await login(t);
    draft = await createDraft(t, { name: 'forgery target', issueStock: { total: 5 } });
    html = await pageHtml(t, cookie);
  });

  const confirmPath = () => `/admin/coupons/${draft.id}/confirm`;

  it('refuses a POST without, with a wrong, or with another action’s CSRF token (403) and changes nothing', async () => {
    const otherSession = await login(t);
    const foreign = csrfFor(await pageHtml(t, otherSession), confirmPath());
    const forms: Record<string, string>[] = [{}, { csrf: 'x'.repeat(43) }, { csrf: csrfFor(html, `/admin/coupons/${draft.id}/delete`) }, { csrf: foreign }];
    for (const fields of forms) {
      const res = await submit(t, cookie, confirmPath(), fields);
      expect(res.status, JSON.stringify(fields)).toBe(403);
      expect(await res.text()).toContain('Form expired');
    }
    const created = await submit(t, cookie, '/admin/coupons', { name: 'forged create' });
    expect(created.status).toBe(403);
    expect((await getCoupon(t, draft.id)).status).toBe('draft');
    expect(await pageHtml(t, cookie)).not.toContain('forged create');
  });

  it('refuses a cross-origin or cross-site POST even with a valid token (403) and changes nothing', async () => {
    const csrf = csrfFor(html, confirmPath());
    const forged: Record<string, string>[] = [{ origin: 'https://evil.example' }, { origin: 'null' }, { origin: 'http://localhost:8080' }, { 'sec-fetch-site': 'same-site' }];
    for (const headers of forged) {
      const res = await submit(t, cookie, confirmPath(), { csrf }, headers);
      expect(res.status, JSON.stringify(headers)).toBe(403);
    }
    expect((await postLogin(t, ADMIN, { headers: { origin: 'https://evil.example' } })).status).toBe(403);
    expect((await getCoupon(t, draft.id)).status).toBe('draft');
  });

  it('refuses a POST without any credentials (401)', async () => {
    const res = await submit(t, '', confirmPath(), { csrf: csrfFor(html, confirmPath()) });
    expect(res.status).toBe(401);
    expect((await getCoupon(t, draft.id)).status).toBe('draft');
  });

  it('lets a script with the admin bearer token post without a CSRF token (a browser cannot forge that header)', async () => {
    const res = await t.call('POST', confirmPath(), { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(res.status).toBe(303);
    expect((await getCoupon(t, draft.id)).status).toBe('confirmed');
    const client = await t.call('POST', `/admin/coupons/${draft.id}/pause`, { token: CLIENT, body: '' });
    expect(client.status).toBe(403);
    expect((await getCoupon(t, draft.id)).status).toBe('confirmed');
  });

  it('ignores a flash message that this server did not sign', async () => {
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
