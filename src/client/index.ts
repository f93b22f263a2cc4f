/**
 * The typed client for TypeScript callers (checkout services, scripts): openapi-fetch over the
 * types `npm run client:generate` writes from `/openapi.json` (`schema.d.ts`). Every call
 * answers `{ data, error, response }`: `data` typed by the route's 2xx body, `error` by its
 * problem body (`code` is the closed enum of refusals), so a refusal is data, never a throw.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, paths } from './schema.js';

/** A problem answer (`application/problem+json`): `code` says which refusal. */
export type Problem = components['schemas']['Problem'];
/** The stable codes of refusals and failures. */
export type ProblemCode = Problem['code'];

export type CouponStockClient = Client<paths>;

export interface CouponStockClientOptions {
  /** Where the service answers, e.g. `https://coupons.example.com` (no trailing `/v1`). */
  baseUrl: string;
  /** `CLIENT_API_TOKEN` for issue/use/cancel/live, `ADMIN_API_TOKEN` for everything. */
  token: string;
  /** A `fetch` to send with (default: the global one), e.g. a Worker service binding's. */
  fetch?: (request: Request) => Promise<Response>;
}

/** A client that sends the bearer token on every call. */
export function createCouponStockClient(options: CouponStockClientOptions): CouponStockClient {
  return createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    headers: { authorization: `Bearer ${options.token}` },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}
