/**
 * Webhook endpoints, events and deliveries in Postgres. Recording an event and its deliveries
 * is one transaction keyed by the event's dedupe key, so two syncs seeing the same sell-out
 * record it once; claiming due deliveries locks them with SKIP LOCKED and leases them, so two
 * overlapping schedules never send the same attempt twice.
 */
import { and, desc, eq, inArray, lte, sql } from 'drizzle-orm';
import { newId } from '../../coupon/ids.js';
import type { EventType, NewEvent } from '../../events/events.js';
import type { TargetPolicy } from '../../events/targets.js';
import type { DeliveryRecord, DueDelivery, Endpoint, Outcome, WebhookRepository } from '../../events/ports.js';
import type { Db } from './db.js';
import { webhookDeliveries, webhookEndpoints, webhookEvents } from './schema.js';

const toEndpoint = (row: typeof webhookEndpoints.$inferSelect): Endpoint => ({ ...row, events: row.events as EventType[] });

export class PostgresWebhookRepository implements WebhookRepository {
  private readonly db: Db;
  readonly targets: TargetPolicy | undefined;

  /** `targets`: where deliveries may go (absent: public addresses only). */
  constructor({ db, targets }: { db: Db; targets?: TargetPolicy }) {
    this.db = db;
    this.targets = targets;
  }

  async record(events: NewEvent[], now: Date): Promise<void> {
    if (events.length === 0) return;
    await this.db.transaction(async (tx) => {
      const endpoints = await tx.select().from(webhookEndpoints);
      for (const event of events) {
        if (event.confirm) {
          // The first sighting is only noted (no delivery); the same key seen again is told.
          const [first] = await tx
            .insert(webhookEvents)
            .values({ id: newId('evt', now.getTime()), type: event.type, couponId: event.couponId, dedupeKey: `${event.dedupeKey}#seen`, body: '', createdAt: now })
            .onConflictDoNothing()
            .returning({ id: webhookEvents.id });
          if (first) continue;
        }
        const id = newId('evt', now.getTime());
        const body = JSON.stringify({ id, type: event.type, createdAt: now.toISOString(), data: event.data });
        const [inserted] = await tx
          .insert(webhookEvents)
          .values({ id, type: event.type, couponId: event.couponId, dedupeKey: event.dedupeKey, body, createdAt: now })
          .onConflictDoNothing()
          .returning({ id: webhookEvents.id });
        if (!inserted) continue; // told before
        const to = endpoints.filter((e) => e.events.length === 0 || e.events.includes(event.type));
        if (to.length === 0) continue;
        await tx
          .insert(webhookDeliveries)
          .values(to.map((e) => ({ eventId: id, endpointId: e.id, status: 'pending' as const, attempts: 0, nextAttemptAt: now, createdAt: now })));
      }
    });
  }

  async createEndpoint(endpoint: Endpoint): Promise<Endpoint> {
    const [row] = await this.db.insert(webhookEndpoints).values(endpoint).returning();
    if (!row) throw new Error('webhook endpoint not created');
    return toEndpoint(row);
  }

  async listEndpoints(): Promise<Endpoint[]> {
    return (await this.db.select().from(webhookEndpoints).orderBy(webhookEndpoints.createdAt, webhookEndpoints.id)).map(toEndpoint);
  }

  async deleteEndpoint(id: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.delete(webhookDeliveries).where(and(eq(webhookDeliveries.endpointId, id), eq(webhookDeliveries.status, 'pending')));
      const gone = await tx.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id)).returning({ id: webhookEndpoints.id });
      return gone.length > 0;
    });
  }

  async claimDue(now: Date, limit: number, leaseMs: number): Promise<DueDelivery[]> {
    return this.db.transaction(async (tx) => {
      const due = await tx
        .select({ eventId: webhookDeliveries.eventId, endpointId: webhookDeliveries.endpointId, attempts: webhookDeliveries.attempts })
        .from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.status, 'pending'), lte(webhookDeliveries.nextAttemptAt, now)))
        .orderBy(webhookDeliveries.nextAttemptAt)
        .limit(limit)
        .for('update', { skipLocked: true });
      if (due.length === 0) return [];
      const lease = new Date(now.getTime() + leaseMs);
      for (const d of due) {
        await tx
          .update(webhookDeliveries)
          .set({ nextAttemptAt: lease })
          .where(and(eq(webhookDeliveries.eventId, d.eventId), eq(webhookDeliveries.endpointId, d.endpointId)));
      }
      const events = await tx.select().from(webhookEvents).where(inArray(webhookEvents.id, due.map((d) => d.eventId)));
      const endpoints = await tx.select().from(webhookEndpoints).where(inArray(webhookEndpoints.id, due.map((d) => d.endpointId)));
      const eventById = new Map(events.map((e) => [e.id, e]));
      const endpointById = new Map(endpoints.map((e) => [e.id, e]));
      return due.flatMap((d) => {
        const event = eventById.get(d.eventId);
        const endpoint = endpointById.get(d.endpointId);
        return event && endpoint ? [{ ...d, url: endpoint.url, secret: endpoint.secret, type: event.type, body: event.body }] : [];
      });
    });
  }

  async settle(d: DueDelivery, outcome: Outcome, now: Date): Promise<void> {
    const where = and(eq(webhookDeliveries.eventId, d.eventId), eq(webhookDeliveries.endpointId, d.endpointId));
    const attempts = sql`${webhookDeliveries.attempts} + 1`;
    if (outcome.delivered) {
      await this.db.update(webhookDeliveries).set({ status: 'delivered', attempts, lastStatus: outcome.status, lastError: null, deliveredAt: now, nextAttemptAt: null }).where(where);
      return;
    }
    await this.db
      .update(webhookDeliveries)
      .set({ status: outcome.nextAttemptAt ? 'pending' : 'failed', attempts, lastStatus: outcome.status, lastError: outcome.error, nextAttemptAt: outcome.nextAttemptAt })
      .where(where);
  }

  async recent(limit: number): Promise<DeliveryRecord[]> {
    const rows = await this.db
      .select({
        eventId: webhookDeliveries.eventId,
        endpointId: webhookDeliveries.endpointId,
        url: webhookEndpoints.url,
        type: webhookEvents.type,
        couponId: webhookEvents.couponId,
        status: webhookDeliveries.status,
        attempts: webhookDeliveries.attempts,
        nextAttemptAt: webhookDeliveries.nextAttemptAt,
        lastStatus: webhookDeliveries.lastStatus,
        lastError: webhookDeliveries.lastError,
        deliveredAt: webhookDeliveries.deliveredAt,
        createdAt: webhookDeliveries.createdAt,
      })
      .from(webhookDeliveries)
      .innerJoin(webhookEvents, eq(webhookEvents.id, webhookDeliveries.eventId))
      .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
      .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.eventId))
      .limit(limit);
    return rows;
  }
}
