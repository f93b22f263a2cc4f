/**
 * The webhook store's port and the shapes it keeps. Here, apart from the code that uses them
 * (delivery in `webhooks.ts`, the schedule in `coupon/maintenance.ts`), so a module that only
 * wires the repository imports none of its users. Adapter: `src/adapters/postgres/webhook-repository.ts`.
 */
import type { EventSink, EventType } from './events.js';
import type { TargetPolicy } from './targets.js';

export interface Endpoint {
  id: string;
  url: string;
  /** Event types sent to it; empty: all of them. */
  events: EventType[];
  secret: string;
  createdAt: Date;
}

/** A delivery claimed for sending: where, with which secret, and the exact body. */
export interface DueDelivery {
  eventId: string;
  endpointId: string;
  url: string;
  secret: string;
  type: string;
  body: string;
  /** Attempts made before this one. */
  attempts: number;
}

export interface DeliveryRecord {
  eventId: string;
  endpointId: string;
  url: string;
  type: string;
  couponId: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: Date | null;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

export type Outcome = { delivered: true; status: number } | { delivered: false; status: number | null; error: string; nextAttemptAt: Date | null };

export interface WebhookRepository extends EventSink {
  createEndpoint(endpoint: Endpoint): Promise<Endpoint>;
  listEndpoints(): Promise<Endpoint[]>;
  deleteEndpoint(id: string): Promise<boolean>;
  /** Claims up to `limit` due deliveries for `leaseMs` (an overlapping schedule skips them). */
  claimDue(now: Date, limit: number, leaseMs: number): Promise<DueDelivery[]>;
  settle(delivery: DueDelivery, outcome: Outcome, now: Date): Promise<void>;
  /** The newest deliveries, for the admin page and the API. */
  recent(limit: number): Promise<DeliveryRecord[]>;
  /**
   * Where deliveries may go, checked when an endpoint is created and before every attempt. It
   * travels with the repository because every runtime wires that one object into the app and
   * the schedule. Absent: public addresses only, names checked as written.
   */
  readonly targets?: TargetPolicy;
}
