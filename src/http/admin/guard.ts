/**
 * Who may see and change the admin page, and from where. A person logs in once and holds a
 * session cookie; a script sends `Authorization: Bearer <admin token>`. A cookie-backed POST
 * must carry the CSRF token its form was rendered with; every POST with an `Origin` must come
 * from this origin. SameSite=Strict alone is not enough: a sibling subdomain is "same-site".
 */
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { BEARER, digest, digestsEqual, type Tokens } from '../auth.js';
import type { AppEnv } from '../context.js';
import { SESSION_SECONDS, type AdminSecrets } from './secrets.js';

/** The session behind a request: a login cookie, or a bearer header sent by a script. */
export interface AdminSession {
  id: string;
  via: 'cookie' | 'bearer';
}

export interface AdminEnv {
  Variables: AppEnv['Variables'] & { adminSession: AdminSession };
}

/** Every form of the page; each has its own CSRF token. */
export const ACTIONS = ['create', 'confirm', 'pause', 'resume', 'adjust', 'issue', 'sync', 'archive', 'rebuild', 'delete', 'logout'] as const;
export type Action = (typeof ACTIONS)[number];
export type CsrfTokens = Record<Action, string>;

export const COOKIE = 'cs_admin';
const COOKIE_PATH = '/admin';

/** What the page answers when it refuses: a status and a sentence for a person. */
export interface Refusal {
  status: 401 | 403;
  title: string;
  message: string;
}

/**
 * Served over https, directly or behind a proxy that terminates TLS. `x-forwarded-proto` only
 * ever adds the Secure flag or an allowed origin, so a forged one weakens nothing.
 */
export function isHttps(c: Context): boolean {
  if (new URL(c.req.url).protocol === 'https:') return true;
  return c.req.header('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase() === 'https';
}

/** `false` when the browser says the request came from another origin (or another site). */
export function sameOrigin(c: Context): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = c.req.header('origin');
  if (origin === undefined) return true;
  const url = new URL(c.req.url);
  const host = c.req.header('host') ?? url.host;
  return origin === url.origin || (isHttps(c) && origin === `https://${host}`);
}

/** Sets the login cookie: HttpOnly (no script reads it), SameSite=Strict, Secure on https. */
export async function startSession(c: Context, secrets: AdminSecrets): Promise<void> {
  setCookie(c, COOKIE, await secrets.newSession(Date.now()), {
    httpOnly: true,
    sameSite: 'Strict',
    secure: isHttps(c),
    path: COOKIE_PATH,
    maxAge: SESSION_SECONDS,
  });
}

export function endSession(c: Context): void {
  deleteCookie(c, COOKIE, { httpOnly: true, sameSite: 'Strict', secure: isHttps(c), path: COOKIE_PATH });
}

/** Resolves a presented token: both comparisons always run, so timing tells nothing. */
export function tokenRole(tokens: Tokens): (presented: string) => Promise<'admin' | 'client' | null> {
  const known = Promise.all([digest(tokens.admin), digest(tokens.client)]);
  return async (presented) => {
    const [admin, client] = await known;
    const d = await digest(presented);
    const isAdmin = digestsEqual(d, admin);
    const isClient = digestsEqual(d, client);
    return isAdmin ? 'admin' : isClient ? 'client' : null;
  };
}

export const NOT_ADMIN: Refusal = {
  status: 403,
  title: 'Admin token required',
  message: 'The client token cannot open the admin page. Use the admin token.',
};

/**
 * Lets an admin through and records the session; anyone else is refused by `refuse`, or, on
 * a page load without credentials, sent to the login form.
 */
export function authenticate(
  tokens: Tokens,
  secrets: AdminSecrets,
  refuse: (c: Context, refusal: Refusal) => Response | Promise<Response>,
): MiddlewareHandler<AdminEnv> {
  const roleOf = tokenRole(tokens);
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (header !== undefined) {
      // A script's bearer header: never falls back to the cookie, so a wrong token is a 401.
      const token = BEARER.exec(header.trim())?.[1];
      const role = token ? await roleOf(token) : null;
      if (role === 'client') return refuse(c, NOT_ADMIN);
      if (role === null) return refuse(c, { status: 401, title: 'Not signed in', message: 'The bearer token is not valid.' });
      c.set('adminSession', { id: 'bearer', via: 'bearer' });
      return next();
    }
    const cookie = getCookie(c, COOKIE);
    const id = await secrets.readSession(cookie, Date.now());
    if (id === null) {
      if (cookie !== undefined) endSession(c);
      if (c.req.method === 'GET') return c.redirect('/admin/login', 303);
      return refuse(c, { status: 401, title: 'Not signed in', message: 'Your session has ended. Log in again.' });
    }
    c.set('adminSession', { id, via: 'cookie' });
    return next();
  };
}

/**
 * Whether a POST may act: same origin, and for a cookie session the form's CSRF token. A
 * bearer request needs none: a browser never attaches an Authorization header on its own, so a
 * cross-site page cannot forge one.
 */
export async function postRefusal(c: Context<AdminEnv>, secrets: AdminSecrets, action: Action, csrf: string): Promise<Refusal | null> {
  if (!sameOrigin(c)) return CROSS_ORIGIN;
  const session = c.get('adminSession');
  if (session.via === 'bearer' || (await secrets.checkCsrf(session.id, action, csrf))) return null;
  return {
    status: 403,
    title: 'Form expired',
    message: 'This form was not rendered for your session (or has expired). Reload the admin page and try again.',
  };
}

export const CROSS_ORIGIN: Refusal = {
  status: 403,
  title: 'Cross-origin request refused',
  message: 'Admin actions are accepted only from the admin page itself.',
};

/** The CSRF tokens of every form, for one session. */
export async function csrfTokens(secrets: AdminSecrets, session: AdminSession): Promise<CsrfTokens> {
  const tokens = await Promise.all(ACTIONS.map((action) => secrets.csrf(session.id, action)));
  return Object.fromEntries(ACTIONS.map((action, i) => [action, tokens[i] ?? ''])) as CsrfTokens;
}

/**
 * Headers of every admin response: no scripts, no frames, forms post only here, nothing cached
 * (the page holds CSRF tokens), and no referrer sent to other origins. Not `no-referrer`: under
 * it browsers send `Origin: null` on the page's own form posts, which the origin check refuses.
 */
export const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('X-Frame-Options', 'DENY');
  c.header('Referrer-Policy', 'same-origin');
  c.header('Cache-Control', 'no-store');
};
