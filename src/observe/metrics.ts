/**
 * The metrics port: what the app, the take routes, the gauge decorator and the host's
 * maintenance loop report. The domain never sees it; each runtime picks an implementation — the
 * Node host a Prometheus registry (`src/node/prometheus.ts`), the Worker none (its numbers are
 * the per-request log lines, README).
 */
import type { MaintenanceSummary } from '../coupon/maintenance.js';
import type { GaugePort } from '../stock/gauge.js';

/** How a take ended: a new take, a replay of one (same Idempotency-Key), a refusal (409/404/…), a store that was down (503), a bug (500). */
export type TakeOutcome = 'taken' | 'replayed' | 'refused' | 'unavailable' | 'error';

export interface Metrics {
  /** A request was answered; `route` is the route's pattern (`/v1/coupons/:id/issues`), never the raw path. */
  request(method: string, route: string, status: number, seconds: number): void;
  /** A take (`issue`, `use`, `hold`) was answered; `code` is the problem code, `none` for a success. */
  take(kind: string, outcome: TakeOutcome, code: string): void;
  /** A take (`kind`: issue, use, issue-batch) was refused from the sold-out memo, without a store call. */
  remembered(kind: string): void;
  /** A call on a store (`store`: the gauge's name) returned after `seconds`; `ok` false when it failed or missed its deadline. */
  storeCall(store: string, op: string, seconds: number, ok: boolean): void;
  /** A maintenance run ended, with its summary, or `null` when it failed as a whole. */
  maintenance(summary: MaintenanceSummary | null): void;
  /** The Prometheus text of every metric, where the runtime keeps them (the Node host); absent elsewhere. */
  scrape?(): Promise<{ contentType: string; body: string }>;
}

/** Reports nothing (the Worker: its numbers are its log lines). */
export const noMetrics: Metrics = {
  request: () => {},
  take: () => {},
  remembered: () => {},
  storeCall: () => {},
  maintenance: () => {},
};

declare module 'hono' {
  interface ContextVariableMap {
    /** Where the request reports its numbers. */
    metrics: Metrics;
  }
}

/**
 * The gauge with every call timed and counted as ok or failed: a proxy like `withDeadline`, so
 * methods the port gains later are measured too. Wrap the deadline-wrapped gauge, so a call
 * that missed its deadline counts as the failure the caller saw.
 */
export function observedGauge(gauge: GaugePort, metrics: Metrics): GaugePort {
  const wrapped = new Map<PropertyKey, unknown>();
  const store = gauge.name;
  return new Proxy(gauge, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      let fn = wrapped.get(property);
      if (fn === undefined) {
        const op = String(property);
        const method = value as (...args: unknown[]) => unknown;
        fn = (...args: unknown[]) => {
          const started = performance.now();
          const done = (ok: boolean) => metrics.storeCall(store, op, (performance.now() - started) / 1000, ok);
          let result: unknown;
          try {
            result = method.apply(target, args);
          } catch (error) {
            done(false);
            throw error;
          }
          if (!(result instanceof Promise)) {
            done(true);
            return result;
          }
          return result.then(
            (v: unknown) => {
              done(true);
              return v;
            },
            (error: unknown) => {
              done(false);
              throw error;
            },
          );
        };
        wrapped.set(property, fn);
      }
      return fn;
    },
  });
}
