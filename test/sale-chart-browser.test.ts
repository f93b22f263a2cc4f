/**
 * The sale chart in a real browser: Debian's headless Chromium driven by playwright-core, with
 * JavaScript off (the page ships none). A scripted sale runs through the JSON API over HTTP
 * across four minutes of the test clock — issues, per-user and sold-out refusals, cancels —
 * then the admin page's chart is read point by point from the SVG's data attributes and
 * compared with the ledger (SQL in this test) and with the refusals the test was sent. The
 * opt-in live view reloads the page by itself. The chart's screenshot goes to
 * test/artifacts/sale-chart.png (git-ignored) on every run, and to docs/sale-chart.png (the
 * README's) when that is missing or UPDATE_DOCS_SCREENSHOTS=1. Every wait is bounded.
 */
import { serve, type ServerType } from '@hono/node-server';
import { sql } from 'drizzle-orm';
import { access, copyFile, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, CLIENT, testApp, type TestApp } from './support/app.js';

const WAIT = 10_000;
const MINUTE = 60_000;
const SCREENSHOT = fileURLToPath(new URL('./artifacts/sale-chart.png', import.meta.url));
const DOCS_SCREENSHOT = fileURLToPath(new URL('../docs/sale-chart.png', import.meta.url));

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
  profile = await mkdtemp(join(tmpdir(), 'coupon-stock-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    javaScriptEnabled: false,
    viewport: { width: 1000, height: 900 },
    timeout: WAIT,
  });
  browser.setDefaultTimeout(WAIT);
  browser.setDefaultNavigationTimeout(WAIT);
  page = browser.pages()[0] ?? (await browser.newPage());
}, 60_000);

afterAll(async () => {
  t?.setNow(null);
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await t?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

/** A call to the JSON API over HTTP, as a shop (client token) or an operator (admin token) makes it. */
async function api(method: string, path: string, token: string, body?: unknown, key?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (key) headers['idempotency-key'] = key;
  const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(WAIT) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Clicks and waits for the page the click leads to. */
async function press(target: Locator): Promise<void> {
  await Promise.all([page.waitForEvent('load', { timeout: WAIT }), target.click({ timeout: WAIT })]);
}

interface Point {
  minute: string;
  takes: number;
  refusals: number;
  restores: number;
  remain: number;
}

/** The chart's points as the browser shows them: the data attributes of each minute's group. */
async function shownPoints(chart: Locator): Promise<Point[]> {
  const groups = chart.locator('g.point');
  const points: Point[] = [];
  for (let i = 0; i < (await groups.count()); i++) {
    const g = groups.nth(i);
    const attr = async (name: string) => (await g.getAttribute(`data-${name}`, { timeout: WAIT })) ?? '';
    points.push({ minute: await attr('minute'), takes: Number(await attr('takes')), refusals: Number(await attr('refusals')), restores: Number(await attr('restores')), remain: Number(await attr('remain')) });
  }
  return points;
}

describe('the sale chart in headless Chromium', () => {
  it('shows each minute of a scripted sale as the ledger has it, with the refusals sent, and reloads by itself when live', async () => {
    const TOTAL = 40;
    // A fixed sale time: the screenshot reads the same on every run.
    const m0 = Date.parse('2030-06-01T12:00:00Z');
    t.setNow(m0 - 20_000);
    const created = await api('POST', '/v1/coupons', ADMIN, { name: 'Summer flash sale', issueStock: { total: TOTAL }, perUserIssueLimit: 1 });
    expect(created.status).toBe(201);
    const id = String(created.body.id);
    expect((await api('POST', `/v1/coupons/${id}/confirm`, ADMIN)).status).toBe(200);

    // The script: per minute, new users issuing, users trying a second time, and cancels.
    const script = [
      { users: 12, again: 3, cancels: 0 },
      { users: 19, again: 5, cancels: 1 },
      { users: 24, again: 2, cancels: 2 },
      { users: 9, again: 0, cancels: 0 },
    ];
    const refusalsSent: number[] = [];
    const issuedIds: string[] = [];
    let user = 0;
    for (const [m, step] of script.entries()) {
      let refused = 0;
      for (let i = 0; i < step.users; i++) {
        t.setNow(m0 + m * MINUTE + 1_000 + i * 500);
        const r = await api('POST', `/v1/coupons/${id}/issues`, CLIENT, { userId: `u${user++}` }, `sale-${user}`);
        if (r.status === 201) issuedIds.push(String(r.body.issueId));
        else {
          expect(r.body.code).toBe('SOLD_OUT');
          refused++;
        }
      }
      for (let i = 0; i < step.again; i++) {
        t.setNow(m0 + m * MINUTE + 40_000 + i * 500);
        const r = await api('POST', `/v1/coupons/${id}/issues`, CLIENT, { userId: `u${i}` }, `again-${m}-${i}`);
        // Once sold out, the stock refuses before the per-user limit does.
        expect(['USER_LIMIT_REACHED', 'SOLD_OUT']).toContain(r.body.code);
        refused++;
      }
      for (let i = 0; i < step.cancels; i++) {
        t.setNow(m0 + m * MINUTE + 50_000 + i * 500);
        expect((await api('POST', `/v1/coupons/${id}/issues/${issuedIds.shift() ?? ''}/cancel`, CLIENT)).status).toBe(200);
      }
      refusalsSent.push(refused);
    }
    await t.settle();

    // The ledger, minute by minute, and what was left after each.
    const ledger = (await t.db.db.execute(sql`
      select date_trunc('minute', at) as minute,
             count(*) filter (where action = 'take')::int as takes,
             count(*) filter (where action = 'restore')::int as restores
      from ledger where scope = ${id} group by 1 order by 1`)) as unknown as { rows: { minute: Date; takes: number; restores: number }[] };
    let net = 0;
    const expected = ledger.rows.map((r, i) => {
      net += r.takes - r.restores;
      return { minute: new Date(r.minute).toISOString(), takes: r.takes, refusals: refusalsSent[i] ?? -1, restores: r.restores, remain: TOTAL - net };
    });
    expect(expected.map((p) => p.minute)).toEqual(script.map((_, m) => new Date(m0 + m * MINUTE).toISOString()));
    expect(expected.at(-1)?.remain).toBe(0);

    t.setNow(m0 + 3 * MINUTE + 45_000);
    await page.goto(`${base}/admin/login`);
    await page.locator('#token').fill(ADMIN);
    await press(page.getByRole('button', { name: 'Log in' }));
    const card = page.locator(`section[data-coupon="${id}"]`);
    const chart = card.locator('figure[data-chart="issue"]');
    expect(await shownPoints(chart)).toEqual(expected);
    expect(await chart.locator('svg').getAttribute('role')).toBe('img');
    expect(await chart.locator('svg > title').textContent()).toBe('Issue stock: issued, refused and cancelled per minute, and left');
    expect(await chart.locator('figcaption').textContent()).toContain(`; 0 of ${TOTAL} left.`);
    // The remain line is drawn, and every minute's bars are there.
    expect(await chart.locator('path[stroke]').count()).toBe(1);
    expect(await chart.locator('g.point rect').count()).toBe(expected.reduce((n, p) => n + [p.takes, p.refusals, p.restores].filter((v) => v > 0).length, 0));

    // A Refresh syncs the stock row with the live gauge (drift 0), as an operator would before looking.
    await press(card.getByRole('button', { name: 'Refresh' }));
    expect(await shownPoints(chart)).toEqual(expected);
    expect(((await card.locator('tr[data-stock="issue"] [data-field="drift"]').textContent()) ?? '').trim()).toBe('0');

    // The card from its title to the chart's note (its forms left out): what the README shows.
    await card.locator('.charts').scrollIntoViewIfNeeded();
    const top = await card.boundingBox();
    const bottom = await card.locator('.charts').boundingBox();
    if (!top || !bottom) throw new Error('the card is not on screen');
    await mkdir(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, clip: { x: top.x, y: top.y, width: top.width, height: bottom.y + bottom.height + 8 - top.y }, timeout: WAIT });
    expect((await stat(SCREENSHOT)).size).toBeLessThan(150_000);
    const docsMissing = await access(DOCS_SCREENSHOT).then(() => false, () => true);
    if (docsMissing || process.env.UPDATE_DOCS_SCREENSHOTS === '1') await copyFile(SCREENSHOT, DOCS_SCREENSHOT);

    // Live view: a link turns a meta refresh on; the page then reloads by itself (no script runs).
    await press(page.getByRole('link', { name: /Live view/ }));
    expect(new URL(page.url()).searchParams.get('live')).toBe('1');
    expect(await page.locator('[data-live="on"]').count()).toBe(1);
    const reloaded = await page.waitForEvent('load', { timeout: WAIT });
    expect(new URL(reloaded.url()).searchParams.get('live')).toBe('1');
    await press(page.getByRole('link', { name: 'Stop' }));
    expect(await page.locator('[data-live="off"]').count()).toBe(1);
  });
});
