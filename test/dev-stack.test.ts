/**
 * `npm run dev` with nothing configured must hold up: the Worker in workerd sends its statements
 * over the proxy's HTTP query endpoint (a few pooled connections, closed when idle) and opens a
 * Neon pool for a transaction, through the WebSocket proxy, to the embedded PGlite served over the
 * Postgres protocol (which accepts at most 32 connections). Every connection a request opens must
 * be closed again, on every path, or the server fills up and every request that needs Postgres
 * fails.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGLITE_HTTP_POOL } from '../scripts/neon-proxy/pglite-server.js';
import { DEV_CLIENT, startDevStack, type DevStack } from './support/dev-stack.js';

const run = promisify(execFile);

let stack: DevStack;

beforeAll(async () => {
  // The take deadline is not this test's subject (test/deadlines.test.ts): on a busy 2-core
  // machine the REST endpoint in this process can queue a take past 300 ms.
  stack = await startDevStack({ TAKE_TIMEOUT_MS: '30000', STORE_TIMEOUT_MS: '30000' });
}, 120_000);
afterAll(async () => {
  await stack?.close();
});

type Json = Record<string, unknown>;
const json = async (res: Response) => (await res.json()) as Json;

/**
 * TCP connections the PGlite server holds open right now, as the kernel sees them (its side of
 * each: anything but the listener and TIME-WAIT, so a CLOSE-WAIT it never closed counts too).
 */
async function openConnections(port: number): Promise<number> {
  const { stdout } = await run('ss', ['-Htan', `( sport = :${port} )`]);
  return stdout.split('\n').filter((line) => line.trim() && !/^(LISTEN|TIME-WAIT)\s/.test(line)).length;
}

/** Samples `openConnections` every `everyMs` until stopped; returns every sample. */
function sampler(port: number, everyMs = 50): { stop(): Promise<number[]> } {
  const samples: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      samples.push(await openConnections(port));
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return samples;
    },
  };
}

/** Waits until `check` holds or `ms` pass; returns its last value. */
async function eventually<T>(probe: () => Promise<T>, check: (value: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  let value = await probe();
  while (!check(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    value = await probe();
  }
  return value;
}

/** Requests in flight at once against Postgres in one round: the admin writes and reads below. */
const ADMIN_PER_ROUND = 8;
/** Connections the PGlite server may hold at any sample: each request opens at most one, plus a few closing. */
const BOUND = ADMIN_PER_ROUND + 4;

describe('npm run dev defaults (PGlite behind the Neon WebSocket proxy)', () => {
  it('serves several hundred mixed requests with the connections to PGlite bounded, and stays healthy', async () => {
    const port = stack.pglite.port;
    let requests = 0;
    const call: DevStack['call'] = (...args) => {
      requests += 1;
      return stack.call(...args);
    };
    const expectStatus = async (res: Promise<Response>, status: number) => {
      const r = await res;
      expect(r.status, `${r.url}: ${await r.clone().text()}`).toBe(status);
      return r;
    };
    const create = async (name: string) => String((await json(await expectStatus(call('POST', '/v1/coupons', { body: { name, useStock: { total: 1_000 } } }), 201))).id);

    const sampling = sampler(port);
    const hot = await Promise.all([1, 2, 3].map((i) => create(`dev ${i}`)));
    for (const id of hot) await expectStatus(call('POST', `/v1/coupons/${id}/confirm`), 200);

    const rounds = 12;
    for (let round = 0; round < rounds; round++) {
      const id = hot[round % hot.length] ?? '';
      // Concurrent takes on one coupon (Redis only; their ledger drain reaches Postgres after the response)…
      const uses = Array.from({ length: 20 }, (_, i) =>
        expectStatus(call('POST', `/v1/coupons/${id}/uses`, { token: DEV_CLIENT, body: { userId: `u${round}-${i}` }, headers: { 'idempotency-key': `k${round}-${i}` } }), 201),
      );
      // …at the same time as admin writes and reads, a refused one and the health check, each its own pool.
      const admin = [
        (async () => {
          const draft = await create(`draft ${round}`);
          await expectStatus(call('PATCH', `/v1/coupons/${draft}`, { body: { name: `draft ${round} renamed` } }), 200);
          await expectStatus(call('DELETE', `/v1/coupons/${draft}`), 204);
        })(),
        (async () => {
          const next = await create(`next ${round}`);
          await expectStatus(call('POST', `/v1/coupons/${next}/confirm`), 200);
          await expectStatus(call('POST', `/v1/coupons/${next}/pause`), 200);
        })(),
        expectStatus(call('POST', `/v1/coupons/${id}/stocks/sync`), 200),
        expectStatus(call('GET', `/v1/coupons/${id}`), 200),
        expectStatus(call('GET', '/v1/coupons'), 200),
        expectStatus(call('PATCH', `/v1/coupons/${id}`, { body: { name: 'no longer a draft' } }), 409),
        expectStatus(call('GET', '/v1/coupons/cpn_does_not_exist'), 404),
        expectStatus(call('GET', '/health', { token: null }), 200),
      ];
      expect(admin).toHaveLength(ADMIN_PER_ROUND);
      await Promise.all([...uses, ...admin]);
      // The Cron Trigger, mid-run: its pool is ended too.
      if (round === rounds / 2) await stack.scheduled();
    }
    await stack.scheduled();
    const samples = await sampling.stop();
    const peak = Math.max(...samples);
    // The HTTP query endpoint keeps a few pooled connections (closed after 10 s idle): the rest must be gone.
    const pooled = stack.proxy.httpConnections();
    const left = await eventually(async () => (await openConnections(port)) - stack.proxy.httpConnections(), (n) => n <= 1, 5_000);
    const health = await stack.call('GET', '/health', { token: null });
    const body = await json(health);
    console.log(`dev stack: ${requests} requests, peak ${peak} open connections to PGlite over ${samples.length} samples, ${left} left besides ${pooled} pooled by the HTTP endpoint`);

    expect(requests).toBeGreaterThanOrEqual(300);
    expect(health.status).toBe(200);
    expect(body).toMatchObject({ status: 'ok', checks: { db: 'up' } });
    expect(peak).toBeLessThanOrEqual(BOUND);
    expect(left).toBeLessThanOrEqual(1);
    expect(pooled).toBeLessThanOrEqual(PGLITE_HTTP_POOL);
  }, 60_000);
});
