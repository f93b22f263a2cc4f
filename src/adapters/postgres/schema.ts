/**
 * The one Drizzle schema. Migrations in `drizzle/` are generated from it (`npm run db:generate`).
 *
 * `coupons`, `stocks` and `ledger` are the durable truth in every runtime. The `gauge_*` tables
 * back the Postgres gauge adapter (the embedded default and the benchmark baseline); with Redis
 * gauges they stay empty.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const count = (name: string) => bigint(name, { mode: 'number' });

export const coupons = pgTable(
  'coupons',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    status: text('status', { enum: ['draft', 'confirmed', 'paused', 'archived'] }).notNull(),
    issueTotal: count('issue_total'),
    useTotal: count('use_total'),
    /** A period cap on issues: its total per period and the period (`day` | `week`). */
    issuePeriodTotal: count('issue_period_total'),
    issuePeriod: text('issue_period', { enum: ['day', 'week'] }),
    usePeriodTotal: count('use_period_total'),
    usePeriod: text('use_period', { enum: ['day', 'week'] }),
    /** A money budget in minor units, and its ISO 4217 currency. */
    budgetTotal: count('budget_total'),
    budgetCurrency: text('budget_currency'),
    perUserIssueLimit: integer('per_user_issue_limit'),
    perUserUseLimit: integer('per_user_use_limit'),
    issueWindowStart: ts('issue_window_start'),
    issueWindowEnd: ts('issue_window_end'),
    useWindowStart: ts('use_window_start'),
    useWindowEnd: ts('use_window_end'),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
    /** Bumped by every status change: the gauge applies an open/closed flag only from a newer one. */
    statusVersion: integer('status_version').notNull().default(0),
  },
  (t) => [index('coupons_status_id_idx').on(t.status, t.id)],
);

/** A generic stock: its configured total and a lazy snapshot of the live remain. */
export const stocks = pgTable(
  'stocks',
  {
    key: text('key').primaryKey(),
    /** The owner of the stock (a coupon id). */
    scope: text('scope').notNull(),
    /** The owner's name for it (`issue`, `use`). */
    name: text('name').notNull(),
    total: count('total').notNull(),
    remain: count('remain').notNull(),
    syncedAt: ts('synced_at'),
    /** The live gauge's adjust count `total` was copied at: an older copy never overwrites a newer one. */
    totalVersion: integer('total_version').notNull().default(0),
  },
  (t) => [index('stocks_scope_idx').on(t.scope)],
);

/** Every take and restore, once: the operation id and the action are the key. */
export const ledger = pgTable(
  'ledger',
  {
    opId: text('op_id').notNull(),
    action: text('action', { enum: ['take', 'restore'] }).notNull(),
    scope: text('scope').notNull(),
    kind: text('kind').notNull(),
    subject: text('subject').notNull(),
    ref: text('ref'),
    amount: integer('amount').notNull(),
    /** What the operation took from a value gauge (a money budget, minor units); null: none. */
    value: count('value'),
    at: ts('at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.opId, t.action] }),
    index('ledger_scope_kind_idx').on(t.scope, t.kind),
    index('ledger_subject_idx').on(t.subject),
  ],
);

/**
 * Refused takes per coupon, ledger kind and minute, for the admin page's sale chart. Counted in
 * memory where the take routes answer and added here in batches after responses: best effort
 * (a process or isolate that dies loses what it had not written yet), unlike the ledger.
 */
export const refusalCounts = pgTable(
  'refusal_counts',
  {
    couponId: text('coupon_id').notNull(),
    /** The minute the refusals were answered in (its start). */
    minute: ts('minute').notNull(),
    /** The ledger kind the refused take would have been (`issue`, `use`; a hold is a `use`). */
    kind: text('kind').notNull(),
    count: count('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.couponId, t.minute, t.kind] })],
);

/** Live gauges of the Postgres gauge adapter. */
export const gauges = pgTable(
  'gauges',
  {
    key: text('key').primaryKey(),
    prefix: text('prefix').notNull(),
    total: count('total').notNull(),
    remain: count('remain').notNull(),
    /** How many adjusts changed `total` (the durable copy of the total follows it by version). */
    version: integer('version').notNull().default(0),
  },
  (t) => [index('gauges_prefix_idx').on(t.prefix), check('gauges_remain_not_negative', sql`${t.remain} >= 0`)],
);

/** Scope policies of the Postgres gauge adapter. */
export const gaugePolicies = pgTable('gauge_policies', {
  prefix: text('prefix').primaryKey(),
  open: boolean('open').notNull(),
  windows: jsonb('windows').$type<Record<string, { start: number | null; end: number | null }>>().notNull(),
  limits: jsonb('limits').$type<Record<string, number>>().notNull(),
  /** The coupon status version `open` was written from: an older writer never overrides it. */
  version: integer('version').notNull().default(0),
  /** Archived (or being archived): nothing changes the scope's gauges any more. Kept as a tombstone after `drop`. */
  sealed: boolean('sealed').notNull().default(false),
});

/** Adjusts of the Postgres gauge adapter, once per operation id: a retried adjust replays its answer. */
export const gaugeAdjustments = pgTable('gauge_adjustments', {
  opId: text('op_id').primaryKey(),
  prefix: text('prefix').notNull(),
  key: text('key').notNull(),
  fingerprint: text('fingerprint').notNull(),
  total: count('total').notNull(),
  remain: count('remain').notNull(),
  version: integer('version').notNull(),
  at: ts('at').notNull(),
});

/** Operations of the Postgres gauge adapter: what each take changed, and its idempotency record. */
export const gaugeOperations = pgTable(
  'gauge_operations',
  {
    opId: text('op_id').primaryKey(),
    prefix: text('prefix').notNull(),
    kind: text('kind').notNull(),
    idempotencyKey: text('idempotency_key').notNull(),
    fingerprint: text('fingerprint').notNull(),
    /** The items as applied: unlimited items are recorded with `skipped`; `lazy` ones may be gone at restore. */
    items: jsonb('items').$type<{ key: string; n: number; skipped: boolean; lazy?: boolean }[]>().notNull(),
    /** The remains answered by the take, replayed on a retry. */
    remains: jsonb('remains').$type<(number | null)[]>().notNull(),
    scope: text('scope').notNull(),
    subject: text('subject').notNull(),
    ref: text('ref'),
    amount: integer('amount').notNull(),
    value: count('value'),
    at: ts('at').notNull(),
    restoredAt: ts('restored_at'),
    /** A hold: when it is given back unless committed first. */
    holdExpiresAt: ts('hold_expires_at'),
    committedAt: ts('committed_at'),
  },
  (t) => [
    uniqueIndex('gauge_operations_idempotency_idx').on(t.prefix, t.idempotencyKey),
    index('gauge_operations_holds_idx').on(t.prefix, t.holdExpiresAt).where(sql`${t.holdExpiresAt} is not null and ${t.restoredAt} is null and ${t.committedAt} is null`),
  ],
);

/** Webhook endpoints: where events are sent, which types (empty = all), signed with `secret`. */
export const webhookEndpoints = pgTable('webhook_endpoints', {
  id: text('id').primaryKey(),
  url: text('url').notNull(),
  events: jsonb('events').$type<string[]>().notNull(),
  secret: text('secret').notNull(),
  createdAt: ts('created_at').notNull(),
});

/** Events, once each (`dedupe_key`), with the exact body every delivery attempt signs and sends. */
export const webhookEvents = pgTable(
  'webhook_events',
  {
    id: text('id').primaryKey(),
    type: text('type').notNull(),
    couponId: text('coupon_id').notNull(),
    dedupeKey: text('dedupe_key').notNull(),
    body: text('body').notNull(),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [uniqueIndex('webhook_events_dedupe_idx').on(t.dedupeKey)],
);

/** One delivery of an event to an endpoint: attempts, the next one, and how the last went. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    eventId: text('event_id').notNull(),
    endpointId: text('endpoint_id').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull(),
    nextAttemptAt: ts('next_attempt_at'),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    deliveredAt: ts('delivered_at'),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.eventId, t.endpointId] }), index('webhook_deliveries_due_idx').on(t.status, t.nextAttemptAt)],
);
