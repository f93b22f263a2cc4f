/**
 * Drives the admin page the way a browser does, through `app.request()`: log in, read the
 * CSRF token a form was rendered with, post forms, follow the 303 back to the page.
 */
import { expect } from 'vitest';
import { ADMIN, type TestApp } from './app.js';

/** `app.request()` resolves paths against this origin. */
export const ORIGIN = 'http://localhost';

/** `name=value` of the session cookie a login response set. */
export function cookieOf(res: Response): string {
  const header = res.headers.get('set-cookie') ?? '';
  const pair = header.split(';')[0] ?? '';
  expect(pair).toMatch(/^cs_admin=./);
  return pair;
}

/** Posts the login form. */
export function postLogin(t: TestApp, token: string, init: { url?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  return Promise.resolve(
    t.app.request(init.url ?? '/admin/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, ...init.headers },
      body: new URLSearchParams({ token }).toString(),
    }),
  );
}

/** Logs in with the admin token and returns the cookie to send. */
export async function login(t: TestApp): Promise<string> {
  const res = await postLogin(t, ADMIN);
  expect(res.status).toBe(303);
  return cookieOf(res);
}

/** GETs a page with the session cookie. */
export function getPage(t: TestApp, cookie: string, path = '/admin'): Promise<Response> {
  return Promise.resolve(t.app.request(path, { headers: { cookie } }));
}

/** The admin page's HTML (expects 200). */
export async function pageHtml(t: TestApp, cookie: string, path = '/admin'): Promise<string> {
  const res = await getPage(t, cookie, path);
  expect(res.status).toBe(200);
  return res.text();
}

/** The CSRF token of the first form posting to `action` (a path) on the page. */
export function csrfFor(html: string, action: string): string {
  const forms = html.split('<form').slice(1);
  const form = forms.find((f) => f.includes(`action="${action}"`));
  const token = form && /name="csrf" value="([^"]+)"/.exec(form)?.[1];
  if (!token) throw new Error(`no form posting to ${action} on the page`);
  return token;
}

/** Posts a form as the browser would (same origin), with whatever fields are given. */
export function submit(t: TestApp, cookie: string, path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(
    t.app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, 'sec-fetch-site': 'same-origin', cookie, ...headers },
      body: new URLSearchParams(fields).toString(),
    }),
  );
}

/** Expects the 303 back to the admin page and returns the page it leads to. */
export async function follow(t: TestApp, cookie: string, res: Response): Promise<string> {
  expect(res.status).toBe(303);
  const location = res.headers.get('location') ?? '';
  expect(location).toMatch(/^\/admin\?/);
  return pageHtml(t, cookie, location.split('#')[0]);
}

/** Renders the page, posts the form for `action` with its own CSRF token, follows the redirect. */
export async function act(t: TestApp, cookie: string, action: string, fields: Record<string, string> = {}): Promise<string> {
  const csrf = csrfFor(await pageHtml(t, cookie), action);
  return follow(t, cookie, await submit(t, cookie, action, { csrf, ...fields }));
}

/** The flash box of a page: its kind, problem code and text. */
export function flashOf(html: string): { kind: string; code: string | null; text: string } | null {
  const match = /<div class="flash [^"]*" role="[^"]*" data-flash="([^"]+)"(?: data-code="([^"]+)")?>(.*?)<\/div>\s*(?=<form|<h2)/s.exec(html);
  if (!match) return null;
  return { kind: match[1] ?? '', code: match[2] ?? null, text: (match[3] ?? '').replace(/<[^>]+>/g, '') };
}

/** The text of one cell of a coupon's stock row (`total`, `synced`, `live`, `drift`, `pct`). */
export function cell(html: string, couponId: string, stock: 'issue' | 'use' | 'budget', name: string): string | null {
  const section = html.split(`data-coupon="${couponId}"`)[1]?.split('</section>')[0] ?? '';
  const row = section.split(`data-stock="${stock}"`)[1]?.split('</tr>')[0] ?? '';
  const match = new RegExp(`data-field="${name}"[^>]*>(.*?)</(?:td|span)>`, 's').exec(row);
  return match ? (match[1] ?? '').replace(/<[^>]+>/g, '').trim() : null;
}

/** The status a coupon's card shows. */
export function shownStatus(html: string, couponId: string): string | null {
  const section = html.split(`data-coupon="${couponId}"`)[1] ?? '';
  return /data-field="status">([a-z]+)</.exec(section)?.[1] ?? null;
}
