/**
 * Webhooks end to end on the Node app (Postgres gauge): endpoints through the API, events
 * recorded by syncs and archivals (once each), delivered by the schedule to a real HTTP
 * receiver on 127.0.0.1, signed (HMAC-SHA256, timestamped), retried with backoff, given up
 * after MAX_ATTEMPTS, visible in the deliveries list and on the admin page.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Maintenance } from '../../src/coupon/maintenance.js';
import { verifyWebhook } from '../../src/events/signature.js';
import { backoffMs, MAX_ATTEMPTS } from '../../src/events/webhooks.js';
import { CLIENT, testApp, type TestApp } from '../support/app.js';
import { createLive, expectJson, expectProblem, issued, sync } from '../support/fixtures.js';
import { login, pageHtml } from '../support/admin-page.js';

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  at: number;
}

let t: TestApp;
let receiver: Server;
let url: string;
const received: Received[] = [];
/** Statuses the receiver answers with, in order; 200 once they run out. */
const answers: number[] = [];

beforeAll(async () => {
  t = await testApp();
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      received.push({ headers: req.headers, body, at: Date.now() });
      res.writeHead(answers.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
});
afterAll(async () => {
  await new Promise((resolve) => receiver.close(resolve));
  await t.close();
});

interface EndpointBody {
  id: string;
  url: string;
  events: string[];
  secret?: string;
}
interface DeliveryBody {
  eventId: string;
  type: string;
  couponId: string;
  status: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
}

let endpoints: string[] = [];
beforeEach(() => {
  received.length = 0;
  answers.length = 0;
});
afterEach(async () => {
  t.setNow(null);
  for (const id of endpoints.splice(0)) await t.call('DELETE', `/v1/webhooks/${id}`);
});

async function endpoint(events?: string[]): Promise<EndpointBody> {
  const created = await expectJson<EndpointBody>(await t.call('POST', '/v1/webhooks', { body: { url, ...(events ? { events } : {}) } }), 201);
  endpoints.push(created.id);
  return created;
}
const schedule = () => new Maintenance(t.deps).run();
const deliveries = async () => (await expectJson<{ items: DeliveryBody[] }>(await t.call('GET', '/v1/webhooks/deliveries?limit=200'), 200)).items;
const bodyOf = (r: Received) => JSON.parse(r.body) as { id: string; type: string; createdAt: string; data: Record<string, unknown> };

describe('webhook endpoints', () => {
  it('creates an endpoint with a secret shown once, lists it without, and removes it', async () => {
    const created = await endpoint(['stock.low', 'stock.sold_out']);
    expect(created).toMatchObject({ id: expect.stringMatching(/^whk_/), url, events: ['stock.low', 'stock.sold_out'], secret: expect.stringMatching(/^whsec_[A-Za-z0-9_-]{43}$/) });
    const list = await expectJson<{ items: EndpointBody[] }>(await t.call('GET', '/v1/webhooks'), 200);
    expect(list.items.find((e) => e.id === created.id)).toEqual({ id: created.id, url, events: ['stock.low', 'stock.sold_out'], createdAt: expect.any(String) });
    expect(JSON.stringify(list)).not.toContain(created.secret);
    expect((await t.call('DELETE', `/v1/webhooks/${created.id}`)).status).toBe(204);
    await expectProblem(await t.call('DELETE', `/v1/webhooks/${created.id}`), 404, 'NOT_FOUND');
    endpoints = [];
  });

  it('refuses bad endpoints and the client token', async () => {
    for (const body of [{}, { url: 'not a url' }, { url: 'ftp://x.example/' }, { url, events: ['stock.gone'] }, { url, extra: 1 }]) {
      await expectProblem(await t.call('POST', '/v1/webhooks', { body }), 400, 'VALIDATION_FAILED');
    }
    await expectProblem(await t.call('POST', '/v1/webhooks', { body: { url }, token: CLIENT }), 403, 'FORBIDDEN');
    await expectProblem(await t.call('GET', '/v1/webhooks/deliveries', { token: CLIENT }), 403, 'FORBIDDEN');
  });
});

describe('events and deliveries', () => {
  it('tells stock.low and stock.sold_out once each, signed, from the schedule', async () => {
    const { secret } = await endpoint();
    const coupon = await createLive(t, { issueStock: { total: 10 } });
    for (let i = 0; i < 9; i++) await issued(t, coupon.id, `u${i}`);
    await sync(t, coupon.id);
    await sync(t, coupon.id); // the same fact again: recorded once
    expect(received).toHaveLength(0); // never sent by the sync itself
    const run = await schedule();
    expect(run.webhooks).toMatchObject({ delivered: 1, retrying: 0, failed: 0 });
    expect(received).toHaveLength(1);
    const [low] = received;
    if (!low) throw new Error('nothing received');
    expect(low.headers['content-type']).toBe('application/json');
    expect(low.headers['coupon-stock-event']).toBe('stock.low');
    expect(await verifyWebhook(secret ?? '', String(low.headers['coupon-stock-signature']), low.body, Date.now())).toBe(true);
    expect(bodyOf(low)).toMatchObject({ id: low.headers['coupon-stock-event-id'], type: 'stock.low', data: { couponId: coupon.id, stock: 'issue', total: 10, remain: 1, thresholdPercent: 10 } });

    await issued(t, coupon.id, 'last');
    await schedule(); // syncs (sold out), then delivers what is due
    expect(received.map((r) => r.headers['coupon-stock-event'])).toEqual(['stock.low', 'stock.sold_out']);
    expect(bodyOf(received[1] as Received).data).toMatchObject({ couponId: coupon.id, stock: 'issue', remain: 0 });
    await schedule();
    expect(received).toHaveLength(2);
  });

  it('retries a failed delivery with backoff, then delivers it', async () => {
    await endpoint();
    const start = Date.now();
    t.setNow(start);
    const coupon = await createLive(t, { issueStock: { total: 1 } });
    await issued(t, coupon.id, 'only');
    answers.push(500);
    await schedule();
    const [failed] = (await deliveries()).filter((d) => d.couponId === coupon.id);
    expect(failed).toMatchObject({ type: 'stock.sold_out', status: 'pending', attempts: 1, lastStatus: 500, lastError: 'answered 500', nextAttemptAt: new Date(start + backoffMs(1)).toISOString() });
    await schedule(); // not due yet
    expect(received).toHaveLength(1);
    t.setNow(start + backoffMs(1));
    await schedule();
    expect(received).toHaveLength(2);
    expect(received[0]?.headers['coupon-stock-event-id']).toBe(received[1]?.headers['coupon-stock-event-id']); // the receiver dedupes on it
    expect((await deliveries()).find((d) => d.couponId === coupon.id)).toMatchObject({ status: 'delivered', attempts: 2, lastStatus: 200, lastError: null });
  });

  it('gives a delivery up after MAX_ATTEMPTS, and a refused connection counts as a failure', async () => {
    const created = await expectJson<EndpointBody>(await t.call('POST', '/v1/webhooks', { body: { url: 'http://127.0.0.1:1/nowhere', events: ['coupon.archived'] } }), 201);
    endpoints.push(created.id);
    let now = Date.now();
    t.setNow(now);
    const coupon = await createLive(t, { issueStock: { total: 3 } });
    await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      await schedule();
      now += backoffMs(attempt);
      t.setNow(now);
    }
    const record = (await deliveries()).find((d) => d.couponId === coupon.id && d.type === 'coupon.archived');
    expect(record).toMatchObject({ status: 'failed', attempts: MAX_ATTEMPTS, lastStatus: null, nextAttemptAt: null });
    expect(record?.lastError).toMatch(/fetch failed|ECONNREFUSED|TypeError/);
  });

  it('sends an endpoint only the types it asked for: coupon.archived', async () => {
    await endpoint(['coupon.archived']);
    const coupon = await createLive(t, { issueStock: { total: 1 } });
    await issued(t, coupon.id, 'a'); // sold out: not asked for
    await schedule();
    expect(received).toHaveLength(0);
    await expectJson(await t.call('POST', `/v1/coupons/${coupon.id}/archive`), 200);
    await schedule();
    expect(received.map((r) => bodyOf(r))).toEqual([expect.objectContaining({ type: 'coupon.archived', data: { couponId: coupon.id, name: coupon.name } })]);
  });

  it('tells ledger.drift when two syncs in a row find the same books disagreeing, not a drift that moves', async () => {
    await endpoint(['ledger.drift']);
    const coupon = await createLive(t, { issueStock: { total: 5 } });
    await issued(t, coupon.id, 'a');
    const ghost = (n: number) => ({ opId: `iss_0000000000zzzzzzzzzzzzz${n}`, action: 'take' as const, scope: coupon.id, kind: 'issue', subject: 'ghost', ref: null, amount: 1, at: Date.now() });
    // A take the gauge never saw: the ledger and the gauge now disagree by one.
    await t.deps.ledger.append([ghost(1)]);
    expect((await sync(t, coupon.id)).issue).toMatchObject({ drift: -1, ledger: 2 });
    // The books moved before the next look (as takes landing mid-sync do): not told yet.
    await t.deps.ledger.append([ghost(2)]);
    expect((await sync(t, coupon.id)).issue).toMatchObject({ drift: -2, ledger: 3 });
    await schedule(); // its own sync is the second look at drift -2 with ledger 3
    expect(received.map((r) => bodyOf(r))).toEqual([expect.objectContaining({ type: 'ledger.drift', data: expect.objectContaining({ couponId: coupon.id, drift: -2, ledger: 3 }) })]);
    await schedule();
    expect(received).toHaveLength(1);
  });

  it('shows the deliveries on the admin page', async () => {
    await endpoint();
    const coupon = await createLive(t, { issueStock: { total: 1 } });
    await issued(t, coupon.id, 'a');
    answers.push(503);
    await schedule();
    const html = await pageHtml(t, await login(t));
    const section = html.slice(html.indexOf('id="webhooks"'));
    expect(section).toContain('stock.sold_out');
    expect(section).toContain(coupon.id);
    expect(section).toContain('answered 503');
    expect(section).toContain('pending');
  });
});
