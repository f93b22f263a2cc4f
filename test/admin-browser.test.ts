/**
 * The admin page in a real browser: Debian's headless Chromium driven by playwright-core, with
 * JavaScript switched off to prove the page needs none. The real app is served over HTTP on
 * 127.0.0.1; the scenario logs in, creates and confirms a coupon, issues through the JSON API,
 * presses Refresh and sees the numbers move, then pauses it. The screenshot is kept in
 * test/artifacts/admin.png (git-ignored). Every wait is bounded.
 */
import { serve, type ServerType } from '@hono/node-server';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, CLIENT, testApp, type TestApp } from './support/app.js';

const WAIT = 10_000;
const SCREENSHOT = fileURLToPath(new URL('./artifacts/admin.png', import.meta.url));

let t: TestApp;
let server: ServerType;
let base: string;
let profile: string;
let browser: BrowserContext;
let page: Page;

beforeAll(async () => {
  t = await testApp();
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A fresh profile per run. playwright-core refuses a --user-data-dir argument to launch():
  // a persistent context is how it takes one.
  profile = await mkdtemp(join(tmpdir(), 'coupon-stock-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    javaScriptEnabled: false,
    viewport: { width: 1280, height: 900 },
    timeout: WAIT,
  });
  browser.setDefaultTimeout(WAIT);
  browser.setDefaultNavigationTimeout(WAIT);
  page = browser.pages()[0] ?? (await browser.newPage());
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await t?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

/** Clicks a submit button and waits for the page the form's redirect leads to. */
async function press(button: Locator): Promise<void> {
  await Promise.all([page.waitForEvent('load', { timeout: WAIT }), button.click({ timeout: WAIT })]);
}

const text = async (locator: Locator) => ((await locator.textContent({ timeout: WAIT })) ?? '').trim();

/** One cell of a coupon's stock row as the page shows it. */
const cellOf = (card: Locator, stock: 'issue' | 'use', field: string) => text(card.locator(`tr[data-stock="${stock}"] [data-field="${field}"]`));

/** Issues through the JSON API with the client token, as a shop would. */
async function issueThroughApi(couponId: string, userId: string): Promise<void> {
  const res = await fetch(`${base}/v1/coupons/${couponId}/issues`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CLIENT}`, 'content-type': 'application/json', 'idempotency-key': `browser-${userId}` },
    body: JSON.stringify({ userId }),
    signal: AbortSignal.timeout(WAIT),
  });
  expect(res.status).toBe(201);
}

describe('the admin page in headless Chromium', () => {
  it('logs in, creates and confirms a coupon, sees Refresh move the numbers, pauses it', async () => {
    await page.goto(`${base}/admin`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');

    await page.locator('#token').fill(ADMIN);
    await press(page.getByRole('button', { name: 'Log in' }));
    expect(new URL(page.url()).pathname).toBe('/admin');
    const [cookie] = await browser.cookies(`${base}/admin`);
    expect(cookie).toMatchObject({ name: 'cs_admin', httpOnly: true, sameSite: 'Strict', secure: false, path: '/admin' });
    expect(cookie?.value).not.toContain(ADMIN);

    await page.locator('input[name="name"]').fill('Browser flash sale');
    await page.locator('input[name="issueTotal"]').fill('10');
    await page.locator('input[name="perUserIssueLimit"]').fill('1');
    await page.locator('input[name="issueEnd"]').fill('2099-12-31T23:59');
    await press(page.getByRole('button', { name: 'Create draft' }));
    expect(await text(page.locator('[data-flash]'))).toContain('Created the draft “Browser flash sale”');
    const couponId = decodeURIComponent(new URL(page.url()).hash.slice(1));
    expect(couponId).toMatch(/^cpn_/);
    const card = page.locator(`section[data-coupon="${couponId}"]`);
    expect(await text(card.locator('[data-field="status"]'))).toBe('draft');
    expect(await text(card.locator('dl.meta'))).toContain('until 2099-12-31 23:59 UTC');

    await press(card.getByRole('button', { name: 'Confirm' }));
    expect(await text(card.locator('[data-field="status"]'))).toBe('confirmed');
    expect(await cellOf(card, 'issue', 'live')).toBe('10');

    for (const user of ['ann', 'bob', 'cy']) await issueThroughApi(couponId, user);

    await press(card.getByRole('button', { name: 'Refresh' }));
    expect(await text(page.locator('[data-flash]'))).toContain('issue: 7 left, ledger 3, drift 0');
    expect(await cellOf(card, 'issue', 'live')).toBe('7');
    expect(await cellOf(card, 'issue', 'synced')).toBe('7');
    expect(await cellOf(card, 'issue', 'drift')).toBe('0');
    expect(await cellOf(card, 'issue', 'pct')).toBe('70%');
    expect(await card.locator('.bar div').getAttribute('style', { timeout: WAIT })).toBe('width: 70%');

    // Issue to a list of users through the page's own form (a repeated user hits the limit).
    await card.locator('textarea[name="userIds"]').fill('dee\neve\nann');
    await press(card.getByRole('button', { name: 'Issue to users' }));
    expect(await text(page.locator('[data-flash]'))).toBe(`Issued ${couponId} to 2 of 3 users; refused: 1 USER_LIMIT_REACHED.`);
    expect(await cellOf(card, 'issue', 'live')).toBe('5');

    await mkdir(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true, timeout: WAIT });

    await press(card.getByRole('button', { name: 'Pause' }));
    expect(await text(card.locator('[data-field="status"]'))).toBe('paused');
    expect(await text(page.locator('[data-flash]'))).toContain('Paused “Browser flash sale”');
    expect(await card.getByRole('button', { name: 'Resume' }).count()).toBe(1);
  });
});
