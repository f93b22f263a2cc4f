/**
 * Webhooks end to end on the Node app (on both gauges): endpoints through the API, events
 * recorded by syncs and archivals (once each), delivered by the schedule to a real HTTP
 * receiver on 127.0.0.1, signed (HMAC-SHA256, timestamped), retried with backoff, given up
 * after MAX_ATTEMPTS, visible in the deliveries list and on the admin page. The receivers are
 * local, so these suites allow private targets explicitly (`WEBHOOK_ALLOW_PRIVATE`); the last
 * suite runs with the production default and proves internal targets are refused.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../src/coupon/ids.js';
import { Maintenance } from '../../src/coupon/maintenance.js';
import { verifyWebhook } from '../../src/events/signature.js';
import { backoffMs, MAX_ATTEMPTS } from '../../src/events/webhooks.js';
import { CLIENT, useTestApp, GAUGE_KINDS, testApp, type TestApp } from '../support/app.js';
import { createLive, expectJson, expectProblem, issued, sync } from '../support/fixtures.js';
import { login, pageHtml } from '../support/admin-page.js';

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  at: number;
}

let receiver: Server;
let url: string;
const received: Received[] = [];
/** Statuses the receiver answers with, in order; 200 once they run out. */
const answers: number[] = [];

beforeAll(async () => {
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

beforeEach(() => {
  received.length = 0;
  answers.length = 0;
});
const bodyOf = (r: Received) => JSON.parse(r.body) as { id: string; type: string; createdAt: string; data: Record<string, unknown> };

// Local receivers: allowed only because the test says so, as WEBHOOK_ALLOW_PRIVATE=true would.
useTestApp('webhooks', (t) => {
  let endpoints: string[] = [];
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

    it('never follows a redirect: a 3xx answer is a failed attempt', async () => {
      const landed: string[] = [];
      const landing = await listen((req, res) => {
        landed.push(req.url ?? '');
        res.end();
      });
      const redirector = await listen((req, res) => {
        req.resume();
        res.writeHead(302, { location: `${landing.url}/landed` }).end();
      });
      try {
        const created = await expectJson<EndpointBody>(await t.call('POST', '/v1/webhooks', { body: { url: `${redirector.url}/hooks`, events: ['stock.sold_out'] } }), 201);
        endpoints.push(created.id);
        const coupon = await createLive(t, { issueStock: { total: 1 } });
        await issued(t, coupon.id, 'a');
        expect((await schedule()).webhooks).toMatchObject({ delivered: 0, retrying: 1 });
        expect(landed).toEqual([]);
        expect((await deliveries()).find((d) => d.couponId === coupon.id)).toMatchObject({
          status: 'pending',
          attempts: 1,
          lastStatus: 302,
          lastError: 'answered 302: redirects are not followed',
        });
      } finally {
        await Promise.all([landing.close(), redirector.close()]);
      }
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
}, GAUGE_KINDS, { webhookTargets: { allowPrivate: true } });

/** A local HTTP server for one test. */
async function listen(handler: RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('internal targets, with the production default (WEBHOOK_ALLOW_PRIVATE off)', () => {
  let strict: TestApp;
  const lookups: string[] = [];
  /** The injected resolver's answers: what `node:dns` would say for these names. */
  const dns: Record<string, string[]> = {
    'loopback.example': ['127.0.0.1'],
    'metadata.example': ['169.254.169.254'],
    'mixed.example': ['93.184.215.14', '10.1.2.3'],
    'v6.example': ['2606:4700::6810:84e5', '::1'],
  };
  beforeAll(async () => {
    strict = await testApp({
      webhookTargets: {
        allowPrivate: false,
        resolve: async (host) => {
          lookups.push(host);
          const addresses = dns[host];
          if (!addresses) throw new Error(`getaddrinfo ENOTFOUND ${host}`);
          return addresses;
        },
      },
    });
  });
  afterAll(() => strict?.close());
  const strictDeliveries = async () => (await expectJson<{ items: (DeliveryBody & { endpointId: string })[] }>(await strict.call('GET', '/v1/webhooks/deliveries?limit=200'), 200)).items;
  const created: string[] = [];
  afterEach(async () => {
    for (const id of created.splice(0)) await strict.call('DELETE', `/v1/webhooks/${id}`);
  });

  const INTERNAL = [
    'http://127.0.0.1/hooks',
    'http://localhost:8080/hooks',
    'http://[::1]/hooks',
    'http://169.254.169.254/latest/meta-data/',
    'http://10.0.0.1/hooks',
    'http://192.168.1.1/hooks',
    'http://172.16.0.1/hooks',
    'http://100.64.0.1/hooks',
    'http://0.0.0.0/hooks',
    'http://[::ffff:127.0.0.1]/hooks',
    'http://2130706433/hooks',
    'http://[fd00::1]/hooks',
    'http://[fe80::1]/hooks',
    // Other spellings of the same places.
    'http://0x7f.1/hooks',
    'http://0177.0.0.1/hooks',
    'http://127.1/hooks',
    'http://127.0.0.1./hooks',
    'http://LOCALHOST./hooks',
    'https://api.localhost/hooks',
    'http://[::]/hooks',
    'http://[::ffff:169.254.169.254]/hooks',
    'http://[64:ff9b::a9fe:a9fe]/hooks',
    'http://[ff02::1]/hooks',
    'http://224.0.0.1/hooks',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://intranet/hooks',
  ];
  it.each(INTERNAL)('refuses to create an endpoint for %s', async (url) => {
    const problem = await expectProblem(await strict.call('POST', '/v1/webhooks', { body: { url } }), 400, 'VALIDATION_FAILED');
    expect(problem.errors).toEqual([{ path: 'body.url', message: expect.stringContaining('public') }]);
  });

  it('accepts a public name and a public address', async () => {
    for (const url of ['https://hooks.shop.example/coupon-stock', 'https://93.184.215.14/hooks', 'https://[2606:4700::6810:84e5]/hooks']) {
      const endpoint = await expectJson<EndpointBody>(await strict.call('POST', '/v1/webhooks', { body: { url } }), 201);
      created.push(endpoint.id);
    }
  });

  /** Stores an endpoint behind the API's back, as one created before this check existed. */
  const stored = async (url: string) => {
    const repo = strict.deps.webhooks;
    if (!repo) throw new Error('no webhooks');
    const endpoint = await repo.createEndpoint({ id: newId('whk', Date.now()), url, events: ['stock.sold_out'], secret: 'whsec_stored', createdAt: new Date() });
    created.push(endpoint.id);
    return endpoint.id;
  };
  const soldOut = async () => {
    const coupon = await createLive(strict, { issueStock: { total: 1 } });
    await issued(strict, coupon.id, 'a');
    await new Maintenance(strict.deps).run();
    return (await strictDeliveries()).filter((d) => d.couponId === coupon.id);
  };

  it('re-checks at send time, records one generic error whatever the port, and sends nothing', async () => {
    const port = (receiver.address() as AddressInfo).port;
    const ids = [await stored(`http://127.0.0.1:${port}/hooks`), await stored('http://127.0.0.1:1/closed'), await stored('http://169.254.169.254/latest/meta-data/')];
    const sent = await soldOut();
    expect(received).toHaveLength(0);
    expect(sent.map((d) => d.endpointId).sort()).toEqual([...ids].sort());
    for (const d of sent) expect(d).toMatchObject({ status: 'pending', attempts: 1, lastStatus: null, lastError: 'target refused: not a public address' });
  });

  it('refuses at send time a name that resolves to a private address (all of its addresses must be public)', async () => {
    const port = (receiver.address() as AddressInfo).port;
    lookups.length = 0;
    const ids: string[] = [];
    for (const host of ['loopback.example', 'metadata.example', 'mixed.example', 'v6.example', 'unknown.example']) {
      // As written these are public names: creating them is allowed.
      const endpoint = await expectJson<EndpointBody>(await strict.call('POST', '/v1/webhooks', { body: { url: `http://${host}:${port}/hooks`, events: ['stock.sold_out'] } }), 201);
      created.push(endpoint.id);
      ids.push(endpoint.id);
    }
    const sent = await soldOut();
    expect(received).toHaveLength(0);
    expect([...lookups].sort()).toEqual(['loopback.example', 'metadata.example', 'mixed.example', 'unknown.example', 'v6.example']);
    expect(sent.map((d) => d.endpointId).sort()).toEqual([...ids].sort());
    for (const d of sent) expect(d).toMatchObject({ status: 'pending', lastStatus: null, lastError: 'target refused: not a public address' });
  });
});
