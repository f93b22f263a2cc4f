/**
 * The metrics of the Node host in a prom-client registry, scraped at `GET /metrics`. Counters
 * and histograms are updated as requests, takes, gauge calls and maintenance runs happen; the
 * backlogs (ledger events waiting in Redis, webhook deliveries pending or failed) are read when
 * Prometheus scrapes, so an idle host costs nothing.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MaintenanceSummary } from '../coupon/maintenance.js';
import type { Metrics, TakeOutcome } from '../observe/metrics.js';

/** What the scrape reads from the stores; each is optional (a test app may have neither). */
export interface Backlogs {
  /** Ledger events waiting in the gauges to be drained into Postgres, and the age of the oldest. */
  ledger?: () => Promise<{ events: number; oldestSeconds: number }>;
  /** Webhook deliveries waiting for an attempt (`pending`) and given up on (`failed`). */
  webhooks?: () => Promise<{ pending: number; failed: number }>;
}

export interface PrometheusOptions extends Backlogs {
  /** Process metrics (CPU, memory, event-loop lag) too (default true). */
  processMetrics?: boolean;
}

/** Latency buckets in seconds: a take answers in ms, a deadline is 0.3 s, a store call may take 5 s. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A Prometheus registry behind the metrics port. */
export function prometheusMetrics(options: PrometheusOptions = {}): Metrics & { registry: Registry } {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'coupon_stock_' });
  const registers = [registry];
  const takes = new Counter({ name: 'coupon_stock_takes_total', help: 'Takes answered, by kind (issue, use, hold), outcome and problem code (none on success)', labelNames: ['kind', 'outcome', 'code'], registers });
  const remembered = new Counter({
    name: 'coupon_stock_sold_out_memo_answers_total',
    help: 'Takes refused from the sold-out memo without a store call, by kind (issue, use, issue-batch); they count in coupon_stock_takes_total too',
    labelNames: ['kind'],
    registers,
  });
  const requests = new Histogram({ name: 'coupon_stock_http_request_duration_seconds', help: 'Request latency by method, route pattern and status', labelNames: ['method', 'route', 'status'], buckets: BUCKETS, registers });
  const storeCalls = new Histogram({ name: 'coupon_stock_store_call_duration_seconds', help: 'Gauge-store call latency by store, operation and result (ok, error)', labelNames: ['store', 'op', 'result'], buckets: BUCKETS, registers });
  const storeErrors = new Counter({ name: 'coupon_stock_store_call_errors_total', help: 'Gauge-store calls that failed or missed their deadline', labelNames: ['store', 'op'], registers });
  const runs = new Counter({ name: 'coupon_stock_maintenance_runs_total', help: 'Maintenance runs by result (ok, failed: the run as a whole)', labelNames: ['result'], registers });
  const found = new Counter({
    name: 'coupon_stock_maintenance_findings_total',
    help: 'What maintenance found, by kind: drifted and missing stocks, rebuilt, archived and failed coupons',
    labelNames: ['kind'],
    registers,
  });
  const lastRun = new Gauge({ name: 'coupon_stock_maintenance_last_run_timestamp_seconds', help: 'When the last maintenance run ended (Unix time)', registers });
  const lastDrift = new Gauge({ name: 'coupon_stock_maintenance_drifted_stocks', help: 'Stocks whose total − remain differed from the ledger in the last run', registers });

  const { ledger, webhooks } = options;
  // One read of the ledger per scrape serves both gauges (collects run concurrently).
  // A store that cannot be read shows NaN: the scrape itself still answers, so the other metrics
  // (store errors above all) are there when a store is down.
  let reading: Promise<{ events: number; oldestSeconds: number }> | null = null;
  const readLedger = (read: NonNullable<Backlogs['ledger']>) =>
    (reading ??= read()
      .catch(() => ({ events: NaN, oldestSeconds: NaN }))
      .finally(() => {
        reading = null;
      }));
  new Gauge({
    name: 'coupon_stock_ledger_waiting_events',
    help: 'Ledger events written with takes but not yet drained into Postgres (read at scrape time)',
    registers,
    collect: ledger
      ? async function (this: Gauge) {
          this.set((await readLedger(ledger)).events);
        }
      : undefined,
  });
  new Gauge({
    name: 'coupon_stock_ledger_oldest_waiting_seconds',
    help: 'Age of the oldest ledger event waiting to be drained, 0 when none (read at scrape time)',
    registers,
    collect: ledger
      ? async function (this: Gauge) {
          this.set((await readLedger(ledger)).oldestSeconds);
        }
      : undefined,
  });
  new Gauge({
    name: 'coupon_stock_webhook_deliveries',
    help: 'Webhook deliveries by status: pending (waiting for an attempt) and failed (given up)',
    labelNames: ['status'],
    registers,
    collect: webhooks
      ? async function (this: Gauge<'status'>) {
          const counts = await webhooks().catch(() => ({ pending: NaN, failed: NaN }));
          this.set({ status: 'pending' }, counts.pending);
          this.set({ status: 'failed' }, counts.failed);
        }
      : undefined,
  });

  return {
    registry,
    request: (method, route, status, seconds) => requests.observe({ method, route, status: String(status) }, seconds),
    take: (kind: string, outcome: TakeOutcome, code: string) => takes.inc({ kind, outcome, code }),
    remembered: (kind: string) => remembered.inc({ kind }),
    storeCall: (store, op, seconds, ok) => {
      storeCalls.observe({ store, op, result: ok ? 'ok' : 'error' }, seconds);
      if (!ok) storeErrors.inc({ store, op });
    },
    maintenance: (summary: MaintenanceSummary | null) => {
      lastRun.set(Date.now() / 1000);
      if (!summary) {
        runs.inc({ result: 'failed' });
        return;
      }
      runs.inc({ result: 'ok' });
      const drifted = summary.drifted.reduce((n, d) => n + d.stocks.length, 0);
      found.inc({ kind: 'drifted' }, drifted);
      found.inc({ kind: 'missing' }, summary.missing.reduce((n, d) => n + d.stocks.length, 0));
      found.inc({ kind: 'rebuilt' }, summary.rebuilt.length);
      found.inc({ kind: 'archived' }, summary.archived.length);
      found.inc({ kind: 'failed' }, summary.failed.length);
      lastDrift.set(drifted);
    },
    scrape: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}
