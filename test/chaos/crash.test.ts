/**
 * Durable means durable: `npm start` with the Postgres gauge (group commit) killed with SIGKILL
 * in the middle of a flash sale, on embedded PGlite and on PostgreSQL (`DATABASE_URL`), then
 * started again on the same data. Every 201 answered before the kill must be in the ledger;
 * nothing that was not answered may be half-applied (the books balance: `total − remain =
 * ledger`, drift 0); and clients retrying their unanswered requests with the same
 * Idempotency-Keys, while the rest of the sale goes on, end with exactly the stock taken — every
 * 201 from before the kill replayed with the same issue id, no user above the per-user limit.
 *
 * `CRASH_USERS` (default 400) and `CRASH_STOCK` (default 150) size each sale.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresDb, type TestDb } from '../support/db.js';
import { startHost, stopHost, type StartedHost } from '../support/node-process.js';

const USERS = Number(process.env.CRASH_USERS ?? 400);
const STOCK = Number(process.env.CRASH_STOCK ?? 150);
const IN_FLIGHT = 40;
const ADMIN = 'crash-admin-token-0123456789';
const CLIENT = 'crash-client-token-0123456789';

type Answer = { status: 201; issueId: string } | { status: 409; code: string } | { status: 'none'; why: string };

async function call(host: StartedHost, method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${host.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** One issue request of `user` under its own key; a transport error or a 5xx is no answer. */
async function issue(host: StartedHost, couponId: string, user: number): Promise<Answer> {
  try {
    const res = await call(host, 'POST', `/v1/coupons/${couponId}/issues`, CLIENT, { userId: `user-${user}` }, { 'idempotency-key': `key-${user}` });
    if (res.status === 201) return { status: 201, issueId: String(res.body.issueId) };
    if (res.status === 409) return { status: 409, code: String(res.body.code) };
    return { status: 'none', why: `${res.status} ${String(res.body.code)}` };
  } catch (error) {
    return { status: 'none', why: error instanceof Error ? error.message : String(error) };
  }
}

describe('npm start killed with SIGKILL in the middle of a sale (Postgres gauge, group commit)', () => {
  let base: string;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'cs-crash-'));
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it.each(['pglite', 'postgres'] as const)('on %s: every 201 is in the ledger, the books balance, retries end with exactly the stock taken', { timeout: 400_000 }, async (store) => {
    let db: TestDb | null = null;
    const env: Record<string, string> = { DATA_DIR: join(base, store), PORT: '0', HOST: '127.0.0.1', ADMIN_API_TOKEN: ADMIN, CLIENT_API_TOKEN: CLIENT };
    if (store === 'postgres') {
      db = await postgresDb();
      env.DATABASE_URL = db.url ?? '';
    }
    let host = await startHost(env);
    try {
      const created = await call(host, 'POST', '/v1/coupons', ADMIN, { name: `crash ${store}`, issueStock: { total: STOCK }, perUserIssueLimit: 1 });
      const couponId = String(created.body.id);
      expect((await call(host, 'POST', `/v1/coupons/${couponId}/confirm`, ADMIN)).status).toBe(200);

      // The sale: IN_FLIGHT clients, each user once; the process dies once a third is sold.
      const before = new Map<number, Answer>();
      let next = 0;
      let sold = 0;
      let killed = false;
      const client = async () => {
        while (next < USERS && !killed) {
          const user = next++;
          const answer = await issue(host, couponId, user);
          before.set(user, answer);
          if (answer.status === 201 && ++sold >= STOCK / 3 && !killed) {
            killed = true;
            host.child.kill('SIGKILL');
          }
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, client));
      await new Promise<void>((resolve) => (host.child.exitCode !== null || host.child.signalCode !== null ? resolve() : host.child.once('exit', () => resolve())));
      expect(host.child.signalCode).toBe('SIGKILL');
      const answered = [...before].flatMap(([user, a]) => (a.status === 201 ? [{ user, issueId: a.issueId }] : []));
      const unanswered = [...before].flatMap(([user, a]) => (a.status === 'none' ? [user] : []));
      console.log(`${store}: killed after ${answered.length} answered 201s; ${unanswered.length} requests unanswered; ${USERS - before.size} users not yet asked`);

      host = await startHost(env);
      // Every 201 from before the kill is in the ledger (the user's coupons are read from it).
      for (const { user, issueId } of answered) {
        const mine = await call(host, 'GET', `/v1/users/user-${user}/coupons`, CLIENT);
        const coupon = (mine.body.coupons as { couponId: string; issues: { id: string }[] }[]).find((c) => c.couponId === couponId);
        expect(coupon?.issues.map((i) => i.id), `user-${user}`).toContain(issueId);
      }
      // Nothing half-applied: the books balance as the restarted process finds them.
      const synced = await call(host, 'POST', `/v1/coupons/${couponId}/stocks/sync`, ADMIN);
      const stock = synced.body.issue as { total: number; remain: number; ledger: number; drift: number };
      expect(stock.drift).toBe(0);
      expect(stock.total - stock.remain).toBe(stock.ledger);
      expect(stock.ledger).toBeGreaterThanOrEqual(answered.length);

      // The clients retry what got no answer, with the same keys, and the sale goes on; the
      // answered 201s are retried too and must replay.
      const after = new Map<number, Answer>();
      const again = [...unanswered, ...answered.map((a) => a.user), ...Array.from({ length: USERS - before.size }, (_, i) => before.size + i)];
      let cursor = 0;
      const retrier = async () => {
        while (cursor < again.length) {
          const user = again[cursor++] as number;
          let answer = await issue(host, couponId, user);
          for (let tries = 0; answer.status === 'none' && tries < 20; tries++) answer = await issue(host, couponId, user);
          after.set(user, answer);
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, retrier));
      expect([...after.values()].filter((a) => a.status === 'none')).toEqual([]);
      for (const { user, issueId } of answered) expect(after.get(user)).toEqual({ status: 201, issueId });

      const winners = new Set([...before, ...after].flatMap(([user, a]) => (a.status === 201 ? [user] : [])));
      const refused = [...before, ...after].filter(([, a]) => a.status === 409);
      for (const [, a] of refused) expect(a).toEqual({ status: 409, code: 'SOLD_OUT' });
      const live = await call(host, 'GET', `/v1/coupons/${couponId}/stocks/live`, CLIENT);
      const final = (await call(host, 'POST', `/v1/coupons/${couponId}/stocks/sync`, ADMIN)).body.issue as typeof stock;
      // Exactly the stock taken: every unit to one user, and each one answered to its client.
      expect(winners.size).toBe(STOCK);
      expect(live.body.issue).toMatchObject({ total: STOCK, remain: 0 });
      expect(final).toMatchObject({ total: STOCK, remain: 0, ledger: STOCK, drift: 0 });
    } finally {
      if (host.child.exitCode === null && host.child.signalCode === null) await stopHost(host);
      await db?.close();
    }
  });
});
