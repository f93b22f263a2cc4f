/**
 * The app wired for HTTP tests: real adapters on a real database (PGlite by default), fixed
 * tokens, and a clock the test can move.
 */
import { PostgresCouponRepository } from '../../src/adapters/postgres/coupon-repository.js';
import { PostgresLedgerRepository } from '../../src/adapters/postgres/ledger-repository.js';
import { PostgresGauge } from '../../src/adapters/postgres/postgres-gauge.js';
import { PostgresWebhookRepository } from '../../src/adapters/postgres/webhook-repository.js';
import type { CouponDeps } from '../../src/coupon/deps.js';
import { TargetPolicy, type TargetPolicyOptions } from '../../src/events/targets.js';
import { createApp } from '../../src/http/app.js';
import { pgliteDb, type TestDb } from './db.js';

export const ADMIN = 'test-admin-token-0123456789';
export const CLIENT = 'test-client-token-0123456789';

export interface TestApp {
  app: ReturnType<typeof createApp>;
  deps: CouponDeps;
  db: TestDb;
  /** Sets the clock (ms since the epoch); `null` follows the real time again. */
  setNow(ms: number | null): void;
  /** Sends a request with the given token (`null` = none) and JSON body. */
  call(method: string, path: string, options?: { token?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** The database (default: PGlite). */
  open?: () => Promise<TestDb>;
  /** Where webhooks may go (default: public addresses only, as in production). */
  webhookTargets?: TargetPolicyOptions;
}

export async function testApp(options: TestAppOptions | (() => Promise<TestDb>) = {}): Promise<TestApp> {
  const { open = pgliteDb, webhookTargets } = typeof options === 'function' ? { open: options } : options;
  const db = await open();
  let fixed: number | null = null;
  const deps: CouponDeps = {
    coupons: new PostgresCouponRepository({ db: db.db }),
    ledger: new PostgresLedgerRepository({ db: db.db }),
    gauges: new PostgresGauge({ db: db.db }),
    webhooks: new PostgresWebhookRepository({ db: db.db, targets: new TargetPolicy(webhookTargets) }),
    clock: () => fixed ?? Date.now(),
  };
  const app = createApp({
    tokens: { admin: ADMIN, client: CLIENT },
    info: { runtime: 'node', db: 'pglite' },
    deps: () => ({ deps }),
    log: () => {},
  });
  return {
    app,
    deps,
    db,
    setNow: (ms) => {
      fixed = ms;
    },
    call: (method, path, options = {}) => {
      const headers: Record<string, string> = { ...options.headers };
      const token = options.token === undefined ? ADMIN : options.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (options.body !== undefined) {
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      return Promise.resolve(app.request(path, { method, headers, body }));
    },
    close: () => db.close(),
  };
}
