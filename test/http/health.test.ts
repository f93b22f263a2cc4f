/**
 * `/health` with a cached check (the Worker's setting): probes within the cache time answer from
 * the last all-up check instead of querying both stores again; a store found down is never
 * remembered; without a cache time (the Node host) every probe checks. The real adapters (PGlite,
 * the Postgres gauge), observed by spies on their `ping`.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { ADMIN, CLIENT, testApp, type TestApp } from '../support/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(() => t?.close());

const appWith = (cacheMs?: number) =>
  createApp({
    tokens: { admin: ADMIN, client: CLIENT },
    info: { runtime: 'workerd', db: 'postgres', ...(cacheMs === undefined ? {} : { cacheMs }) },
    deps: () => ({ deps: t.deps }),
    log: () => {},
  });

const probe = async (app: ReturnType<typeof createApp>) => {
  const res = await app.request('/health');
  return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string> } };
};

describe('/health', () => {
  it('with a cache time, answers 50 probes from one check of each store', async () => {
    const app = appWith(60_000);
    const db = vi.spyOn(t.deps.coupons, 'ping');
    const gauges = vi.spyOn(t.deps.gauges, 'ping');
    try {
      const answers = await Promise.all(Array.from({ length: 5 }, () => probe(app)));
      for (let i = 0; i < 45; i++) answers.push(await probe(app));
      expect(answers.every((a) => a.status === 200 && a.body.status === 'ok')).toBe(true);
      // The first probes arrive together, before any check has settled: each checks (no promise is shared).
      expect(db.mock.calls.length).toBeLessThanOrEqual(5);
      expect(gauges.mock.calls.length).toBe(db.mock.calls.length);
    } finally {
      db.mockRestore();
      gauges.mockRestore();
    }
  });

  it('checks again once the cache time has passed', async () => {
    const app = appWith(50);
    const db = vi.spyOn(t.deps.coupons, 'ping');
    try {
      await probe(app);
      await probe(app);
      expect(db).toHaveBeenCalledTimes(1);
      await new Promise((r) => setTimeout(r, 60));
      await probe(app);
      expect(db).toHaveBeenCalledTimes(2);
    } finally {
      db.mockRestore();
    }
  });

  it('never remembers a store that was down: the next probe checks again and sees it back', async () => {
    const app = appWith(60_000);
    const db = vi.spyOn(t.deps.coupons, 'ping').mockRejectedValueOnce(new Error('connect ECONNREFUSED'));
    try {
      const down = await probe(app);
      expect(down).toMatchObject({ status: 503, body: { status: 'unavailable', checks: { db: 'down', gauges: 'up' } } });
      const back = await probe(app);
      expect(back).toMatchObject({ status: 200, body: { status: 'ok', checks: { db: 'up', gauges: 'up' } } });
      expect(db).toHaveBeenCalledTimes(2);
    } finally {
      db.mockRestore();
    }
  });

  it('without a cache time (the Node host) checks on every probe, concurrent ones included', async () => {
    const app = appWith();
    const db = vi.spyOn(t.deps.coupons, 'ping');
    try {
      for (let i = 0; i < 3; i++) expect((await probe(app)).status).toBe(200);
      expect(db).toHaveBeenCalledTimes(3);
      const together = await Promise.all(Array.from({ length: 5 }, () => probe(app)));
      expect(together.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
      expect(db).toHaveBeenCalledTimes(8);
    } finally {
      db.mockRestore();
    }
  });
});
