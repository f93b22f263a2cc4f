/**
 * HTTP test fixtures: typed views of the contract's bodies, coupons made through the API, and
 * one assertion for problem responses.
 */
import { expect } from 'vitest';
import { couponKeys } from '../../src/coupon/keys.js';
import type { CouponJson, CouponPageJson, IssueJson, LiveJson, Problem, SyncReportJson, UseJson } from '../../src/http/schemas.js';
import { CLIENT, type TestApp } from './app.js';

/**
 * The contract's bodies, inferred from the schemas the app validates and documents with
 * (`src/http/schemas/`), never written again here: a field the contract gains (a budget) is one
 * the tests see.
 */
export type CouponBody = CouponJson;
export type StockBody = NonNullable<CouponJson['issueStock']>;
export type WindowBody = NonNullable<CouponJson['issueWindow']>;
export type PageBody = CouponPageJson;
export type IssuedBody = IssueJson;
export type UsedBody = UseJson;
export type LiveBody = LiveJson;
export type StockSyncBody = NonNullable<SyncReportJson['issue']>;
export type SyncBody = SyncReportJson;
export type ProblemBody = Problem;

/** The body of a response, typed by the caller (the contract, not the compiler, says what it is). */
export async function body<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** Asserts a problem response (status, content type, every RFC 9457 field, the code) and returns it. */
export async function expectProblem(res: Response, status: number, code: string): Promise<ProblemBody> {
  const text = await res.text();
  expect({ status: res.status, text }).toMatchObject({ status });
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const problem = JSON.parse(text) as ProblemBody;
  expect(problem).toMatchObject({ status, code });
  for (const field of ['type', 'title', 'detail', 'requestId'] as const) {
    expect(typeof problem[field], field).toBe('string');
    expect(problem[field].length, field).toBeGreaterThan(0);
  }
  expect(text).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
  return problem;
}

/** Asserts a status and returns the typed JSON body. */
export async function expectJson<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect({ status: res.status, text }).toMatchObject({ status });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return JSON.parse(text) as T;
}

/** Creates a draft through the API. */
export async function createDraft(t: TestApp, spec: Record<string, unknown> = {}): Promise<CouponBody> {
  return expectJson<CouponBody>(await t.call('POST', '/v1/coupons', { body: { name: 'test coupon', ...spec } }), 201);
}

/** Creates and confirms a coupon through the API. */
export async function createLive(t: TestApp, spec: Record<string, unknown> = {}): Promise<CouponBody> {
  const draft = await createDraft(t, spec);
  return expectJson<CouponBody>(await t.call('POST', `/v1/coupons/${draft.id}/confirm`), 200);
}

export interface TakeOptions {
  token?: string;
  key?: string;
  orderId?: string;
}

const takeHeaders = (key?: string): Record<string, string> => (key === undefined ? {} : { 'idempotency-key': key });

/** POST …/issues with the client token (by default). */
export function issue(t: TestApp, couponId: string, userId: string, options: TakeOptions = {}): Promise<Response> {
  return t.call('POST', `/v1/coupons/${couponId}/issues`, {
    token: options.token ?? CLIENT,
    body: { userId },
    headers: takeHeaders(options.key),
  });
}

/** POST …/uses with the client token (by default). */
export function use(t: TestApp, couponId: string, userId: string, options: TakeOptions = {}): Promise<Response> {
  const payload = options.orderId === undefined ? { userId } : { userId, orderId: options.orderId };
  return t.call('POST', `/v1/coupons/${couponId}/uses`, {
    token: options.token ?? CLIENT,
    body: payload,
    headers: takeHeaders(options.key),
  });
}

/** Issues and expects 201. */
export async function issued(t: TestApp, couponId: string, userId: string, options: TakeOptions = {}): Promise<IssuedBody> {
  return expectJson<IssuedBody>(await issue(t, couponId, userId, options), 201);
}

/** Uses and expects 201. */
export async function used(t: TestApp, couponId: string, userId: string, options: TakeOptions = {}): Promise<UsedBody> {
  return expectJson<UsedBody>(await use(t, couponId, userId, options), 201);
}

/** The live stocks (client token). */
export async function live(t: TestApp, couponId: string): Promise<LiveBody> {
  return expectJson<LiveBody>(await t.call('GET', `/v1/coupons/${couponId}/stocks/live`, { token: CLIENT }), 200);
}

/** The coupon as the admin API shows it. */
export async function getCoupon(t: TestApp, couponId: string): Promise<CouponBody> {
  return expectJson<CouponBody>(await t.call('GET', `/v1/coupons/${couponId}`), 200);
}

/** Runs the admin sync and returns its report. */
export async function sync(t: TestApp, couponId: string): Promise<SyncBody> {
  return expectJson<SyncBody>(await t.call('POST', `/v1/coupons/${couponId}/stocks/sync`), 200);
}

/** An id of the right shape that names nothing. */
export const UNKNOWN_COUPON = 'cpn_0000000000zzzzzzzzzzzzzzzz';
export const UNKNOWN_ISSUE = 'iss_0000000000zzzzzzzzzzzzzzzz';
export const UNKNOWN_USE = 'use_0000000000zzzzzzzzzzzzzzzz';

/** ISO instant `ms` milliseconds from `base`. */
export const at = (base: number, ms = 0): string => new Date(base + ms).toISOString();

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/**
 * What a Redis flush does to a coupon after a quiet spell: its gauges are gone, and its ledger
 * events were drained before (the loss of undrained ones is bounded in test/durability.test.ts).
 */
export async function loseGauges(t: TestApp, couponId: string): Promise<void> {
  await t.settle();
  await t.deps.gauges.drop(couponKeys(couponId).prefix);
}
