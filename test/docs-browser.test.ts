/**
 * `/docs` with no internet: Debian's Chromium (playwright-core) opens the API reference of the
 * app served as the Node host serves it (Scalar's bundle from `@scalar/api-reference`), with
 * every request to anywhere but the service aborted, and sees the operations rendered. Every
 * request the page tried to send elsewhere is recorded, and there must be none.
 */
import { serve, type ServerType } from '@hono/node-server';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CouponDeps } from '../src/coupon/deps.js';
import { createApp } from '../src/http/app.js';
import { SCALAR_CDN_VERSION, standaloneUrl } from '../src/http/docs-routes.js';
import { nodeDocsAssets } from '../src/node/docs-assets.js';
import { ADMIN, CLIENT } from './support/app.js';

const WAIT = 20_000;

let server: ServerType;
let base: string;
let profile: string;
let browser: BrowserContext;
let page: Page;
/** Requests the page tried to send off the machine (aborted). */
const outside: string[] = [];
/** Requests that reached the service. */
const local: string[] = [];

beforeAll(async () => {
  // The page needs only /docs, its bundle and /openapi.json: no store is touched.
  const app = createApp({
    tokens: { admin: ADMIN, client: CLIENT },
    info: { runtime: 'node', db: 'pglite' },
    deps: () => ({ deps: {} as CouponDeps }),
    docs: await nodeDocsAssets(),
    log: () => {},
  });
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  profile = await mkdtemp(join(tmpdir(), 'coupon-stock-docs-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    // No proxy and a resolver that answers nothing: even a request the route below missed
    // (a service worker's, a prefetch) cannot leave the machine.
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-proxy-server', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
    viewport: { width: 1280, height: 900 },
    timeout: WAIT,
  });
  browser.setDefaultTimeout(WAIT);
  browser.setDefaultNavigationTimeout(WAIT);
  await browser.route('**', (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
    if (url.hostname === '127.0.0.1') {
      local.push(url.pathname);
      return route.continue();
    }
    outside.push(url.href);
    return route.abort('internetdisconnected');
  });
  page = browser.pages()[0] ?? (await browser.newPage());
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (profile) await rm(profile, { recursive: true, force: true });
});

describe('/docs with the network off', () => {
  it('renders the operations from the bundle the service serves, and sends nothing elsewhere', async () => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${base}/docs`);
    // The reference renders the first tag's operations; the others open from the sidebar.
    await page.getByText('Liveness of the service and its stores').first().waitFor({ state: 'visible', timeout: WAIT });
    await page.getByText('takes', { exact: true }).first().click();
    await page.getByText('Issue the coupon to a user').first().waitFor({ state: 'visible', timeout: WAIT });
    await page.getByText('Use (redeem) the coupon').first().waitFor({ state: 'visible', timeout: WAIT });
    expect(local).toContain('/openapi.json');
    expect(local.some((path) => path.startsWith('/docs/assets/') && path.endsWith('/standalone.js'))).toBe(true);
    expect(outside).toEqual([]);
    expect(errors).toEqual([]);
  }, 60_000);

  it('serves the bundle for good under a versioned URL; the Worker page pins the CDN to the same version', async () => {
    const assets = await nodeDocsAssets();
    // The Worker (no bundle) loads the installed version from jsDelivr: keep them in step.
    expect(assets.version).toBe(SCALAR_CDN_VERSION);
    expect(standaloneUrl(undefined)).toContain(`@scalar/api-reference@${SCALAR_CDN_VERSION}/`);
    const res = await fetch(`${base}${standaloneUrl(assets)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(1_000_000);
    const html = await (await fetch(`${base}/docs`)).text();
    expect(html).toContain(`src="${standaloneUrl(assets)}"`);
    expect(html).not.toContain('cdn.jsdelivr.net');
  });
});
