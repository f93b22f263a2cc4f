/**
 * Checks for outage tests (`test/deadlines.test.ts`): requests that measure how long they took
 * and call a missing answer a hang, and the routes that must answer 503 with a stable code,
 * within their deadline, when the gauges or the database are down or hang.
 */
import { expect } from 'vitest';
import type { FaultProxy } from './fault-proxy.js';

export const ADMIN = 'deadlines-admin-token-0123456789';
export const CLIENT = 'deadlines-client-token-0123456789';
/** The admin deadline the hosts are configured with (the default take deadline is kept). */
export const STORE_TIMEOUT_MS = 1_000;
/** Default take deadline (300 ms) + margin: the Upstash client alone retried for 4.4 s. */
export const TAKE_BOUND_MS = 1_500;
/** Admin deadline + margin (a route may make one Postgres call besides the gauge call that hangs). */
export const ADMIN_BOUND_MS = STORE_TIMEOUT_MS + 1_500;
/** What the test waits for an answer before calling it a hang. */
const GIVE_UP_MS = 10_000;

type Json = Record<string, unknown>;
export interface Answer {
  status: number;
  body: Json;
  ms: number;
}

/** Sends a request; a request that has no answer after GIVE_UP_MS is a hang (status 0). */
export type Send = (method: string, path: string, options?: { token?: string; body?: unknown; headers?: Record<string, string> }) => Promise<Answer>;

export function sender(base: string, fetcher: (url: string, init: RequestInit) => Promise<Response> = fetch): Send {
  return async (method, path, options = {}) => {
    const started = performance.now();
    const headers: Record<string, string> = { authorization: `Bearer ${options.token ?? ADMIN}`, ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    try {
      const res = await fetcher(`${base}${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(GIVE_UP_MS),
      });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as Json) : {}, ms: Math.round(performance.now() - started) };
    } catch {
      return { status: 0, body: { hang: true }, ms: Math.round(performance.now() - started) };
    }
  };
}

/** What each check measured, printed by the suite at its end. */
export const timings: string[] = [];

/** Expects a problem answer with the code, within the bound; records the time taken. */
export function expectUnavailable(label: string, answer: Answer, code: 'STOCK_UNAVAILABLE' | 'SERVICE_UNAVAILABLE', boundMs: number): void {
  timings.push(`  ${label}: ${answer.status} ${String(answer.body.code ?? '')} in ${answer.ms} ms (bound ${boundMs} ms)`);
  // Soft: one run reports every route that breaks the contract, not only the first.
  expect.soft({ label, status: answer.status, code: answer.body.code }).toEqual({ label, status: 503, code });
  expect.soft(answer.ms, label).toBeLessThan(boundMs);
  expect.soft(JSON.stringify(answer.body), label).not.toMatch(/\bat \S+:\d+|Error:/);
}

/** The proxy's `host:port` in place of the database URL's. */
export function through(url: string, proxy: FaultProxy): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  return u.toString();
}

export function targetOf(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 5432) };
}

/** A confirmed coupon with one issue to cancel. */
export async function liveCoupon(send: Send): Promise<{ id: string; issueId: string }> {
  const created = await send('POST', '/v1/coupons', { body: { name: 'deadline', issueStock: { total: 100 }, useStock: { total: 100 } } });
  expect(created.status).toBe(201);
  const id = String(created.body.id);
  expect((await send('POST', `/v1/coupons/${id}/confirm`)).status).toBe(200);
  const issued = await send('POST', `/v1/coupons/${id}/issues`, { token: CLIENT, body: { userId: 'u0' }, headers: { 'idempotency-key': 'k0' } });
  expect(issued.status).toBe(201);
  return { id, issueId: String(issued.body.issueId) };
}

/** Every route that needs the gauge answers 503 STOCK_UNAVAILABLE within its deadline. */
export async function gaugeRoutes(send: Send, label: string, coupon: { id: string; issueId: string }): Promise<void> {
  const base = `/v1/coupons/${coupon.id}`;
  const key = label.replace(/\W+/g, '-');
  const take = await send('POST', `${base}/issues`, { token: CLIENT, body: { userId: 'u1' }, headers: { 'idempotency-key': `k-${key}` } });
  expectUnavailable(`${label}: take`, take, 'STOCK_UNAVAILABLE', TAKE_BOUND_MS);
  const use = await send('POST', `${base}/uses`, { token: CLIENT, body: { userId: 'u0' }, headers: { 'idempotency-key': `u-${key}` } });
  expectUnavailable(`${label}: use`, use, 'STOCK_UNAVAILABLE', TAKE_BOUND_MS);
  const cancel = await send('POST', `${base}/issues/${coupon.issueId}/cancel`, { token: CLIENT });
  expectUnavailable(`${label}: cancel`, cancel, 'STOCK_UNAVAILABLE', TAKE_BOUND_MS);
  expectUnavailable(`${label}: live`, await send('GET', `${base}/stocks/live`, { token: CLIENT }), 'STOCK_UNAVAILABLE', ADMIN_BOUND_MS);
  expectUnavailable(`${label}: adjust`, await send('POST', `${base}/stocks/issue/adjust`, { body: { delta: 5 } }), 'STOCK_UNAVAILABLE', ADMIN_BOUND_MS);
  expectUnavailable(`${label}: sync`, await send('POST', `${base}/stocks/sync`), 'STOCK_UNAVAILABLE', ADMIN_BOUND_MS);
  expectUnavailable(`${label}: pause`, await send('POST', `${base}/pause`), 'STOCK_UNAVAILABLE', ADMIN_BOUND_MS);
}

/** Every admin route answers 503 SERVICE_UNAVAILABLE when the database cannot be reached. */
export async function databaseRoutes(send: Send, label: string, id: string): Promise<void> {
  const routes: [string, string, unknown?][] = [
    ['GET', `/v1/coupons/${id}`],
    ['GET', '/v1/coupons'],
    ['POST', '/v1/coupons', { name: 'x' }],
    ['POST', `/v1/coupons/${id}/pause`],
    ['POST', `/v1/coupons/${id}/archive`],
  ];
  for (const [method, path, body] of routes) {
    expectUnavailable(`${label}: ${method} ${path.replace(id, '{id}')}`, await send(method, path, { body }), 'SERVICE_UNAVAILABLE', ADMIN_BOUND_MS);
  }
}

export async function expectHealthDown(send: Send, label: string, check: 'gauges' | 'db'): Promise<void> {
  const health = await send('GET', '/health');
  timings.push(`  ${label}: /health ${health.status} in ${health.ms} ms`);
  expect.soft(health.status, label).toBe(503);
  expect.soft(health.body, label).toMatchObject({ status: 'unavailable', checks: { [check]: 'down' } });
  expect.soft(health.ms, label).toBeLessThan(ADMIN_BOUND_MS);
}
