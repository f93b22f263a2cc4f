/**
 * The OpenAPI document exactly as the app serves it, from `createApp` with no stores (the
 * document touches none): for `npm run client:generate` and `npm run lint:openapi`.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { CouponDeps } from '../../src/coupon/deps.js';
import { createApp } from '../../src/http/app.js';

/** The app, wired with nothing but what `/openapi.json` needs. */
export function documentApp() {
  return createApp({
    tokens: { admin: 'unused-admin-token', client: 'unused-client-token' },
    info: { runtime: 'node', db: 'pglite' },
    deps: () => ({ deps: {} as CouponDeps }),
    log: () => {},
  });
}

/** `GET /openapi.json`, parsed. */
export async function openApiDocument(): Promise<Record<string, unknown>> {
  const res = await documentApp().request('/openapi.json');
  if (res.status !== 200) throw new Error(`/openapi.json answered ${res.status}`);
  return (await res.json()) as Record<string, unknown>;
}

/** The app served over HTTP on 127.0.0.1 (a free port): `url` is its `/openapi.json`. */
export async function serveDocument(): Promise<{ url: string; close(): Promise<void> }> {
  const app = documentApp();
  const server = await new Promise<ServerType>((ready) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => ready(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/openapi.json`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
