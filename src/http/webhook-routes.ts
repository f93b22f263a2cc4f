/**
 * Webhook endpoints and their deliveries (admin only). Events are recorded by syncs and
 * archivals and sent by the schedule, signed with the endpoint's secret, which is shown once,
 * when the endpoint is created.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { ID_PATTERN, newId } from '../coupon/ids.js';
import { EVENT_TYPES } from '../events/events.js';
import { PUBLIC_ONLY } from '../events/targets.js';
import type { DeliveryRecord, Endpoint } from '../events/ports.js';
import { base64url } from './admin/secrets.js';
import { requireAdmin } from './auth.js';
import type { AppEnv } from './context.js';
import { errorResponses, json } from './openapi.js';
import { problem } from './problem.js';

const admin = { tags: ['webhooks'], security: [{ bearer: [] }], middleware: [requireAdmin] };

const EndpointIn = z
  .object({
    url: z
      .url()
      .max(2048)
      .refine((u) => /^https?:\/\//i.test(u), 'must be an http or https URL')
      .openapi({
        example: 'https://shop.example/hooks/coupon-stock',
        description: 'a public http(s) URL: private, loopback, link-local and metadata addresses are refused (unless WEBHOOK_ALLOW_PRIVATE)',
      }),
    events: z.array(z.enum(EVENT_TYPES)).max(EVENT_TYPES.length).optional().openapi({ description: 'event types to send; absent or empty: all' }),
  })
  .strict()
  .openapi('WebhookEndpointInput');

const EndpointOut = z
  .object({ id: z.string(), url: z.string(), events: z.array(z.enum(EVENT_TYPES)), createdAt: z.string() })
  .openapi('WebhookEndpoint');
const CreatedEndpoint = EndpointOut.extend({
  secret: z.string().openapi({ description: 'signs every delivery (Coupon-Stock-Signature); shown only now' }),
}).openapi('WebhookEndpointCreated');

const DeliveryOut = z
  .object({
    eventId: z.string(),
    endpointId: z.string(),
    url: z.string(),
    type: z.string(),
    couponId: z.string(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int(),
    nextAttemptAt: z.string().nullable(),
    lastStatus: z.number().int().nullable(),
    lastError: z.string().nullable(),
    deliveredAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('WebhookDelivery');

const EndpointParams = z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) });
const DeliveriesQuery = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) });

const route = {
  create: createRoute({
    ...admin,
    operationId: 'createWebhook',
    method: 'post',
    path: '/v1/webhooks',
    summary: 'Add a webhook endpoint (its signing secret is in this answer only)',
    request: { body: { required: true, content: { 'application/json': { schema: EndpointIn } } } },
    responses: { 201: json(CreatedEndpoint, 'The endpoint and its secret'), ...errorResponses(400, 401, 403, 415) },
  }),
  list: createRoute({
    ...admin,
    operationId: 'listWebhooks',
    method: 'get',
    path: '/v1/webhooks',
    summary: 'Webhook endpoints',
    responses: { 200: json(z.object({ items: z.array(EndpointOut) }), 'The endpoints'), ...errorResponses(401, 403) },
  }),
  remove: createRoute({
    ...admin,
    operationId: 'deleteWebhook',
    method: 'delete',
    path: '/v1/webhooks/{id}',
    summary: 'Remove a webhook endpoint (its pending deliveries are dropped)',
    request: { params: EndpointParams },
    responses: { 204: { description: 'Removed' }, ...errorResponses(401, 403, 404) },
  }),
  deliveries: createRoute({
    ...admin,
    operationId: 'listWebhookDeliveries',
    method: 'get',
    path: '/v1/webhooks/deliveries',
    summary: 'The newest webhook deliveries: status, attempts, the last answer',
    request: { query: DeliveriesQuery },
    responses: { 200: json(z.object({ items: z.array(DeliveryOut) }), 'Deliveries, newest first'), ...errorResponses(400, 401, 403) },
  }),
};

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const endpointOut = (e: Endpoint) => ({ id: e.id, url: e.url, events: e.events, createdAt: e.createdAt.toISOString() });
export const deliveryOut = (d: DeliveryRecord) => ({
  ...d,
  nextAttemptAt: iso(d.nextAttemptAt),
  deliveredAt: iso(d.deliveredAt),
  createdAt: d.createdAt.toISOString(),
});

/** A signing secret: 32 random bytes, base64url. */
const newSecret = () => `whsec_${base64url(crypto.getRandomValues(new Uint8Array(32)))}`;

export function webhookRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  const unavailable = (c: Parameters<typeof problem>[0]) => problem(c, 'SERVICE_UNAVAILABLE', 'webhooks are not configured in this runtime');

  app.openapi(route.create, async (c) => {
    const repo = c.var.services.deps.webhooks;
    if (!repo) return unavailable(c);
    const body = c.req.valid('json');
    // The URL as written; its resolved addresses are checked before every delivery.
    const refused = (repo.targets ?? PUBLIC_ONLY).refusal(body.url);
    if (refused) return problem(c, 'VALIDATION_FAILED', `body.url: ${refused}`, [{ path: 'body.url', message: refused }]);
    const now = c.var.services.deps.clock?.() ?? Date.now();
    const created = await repo.createEndpoint({ id: newId('whk', now), url: body.url, events: body.events ?? [], secret: newSecret(), createdAt: new Date(now) });
    return c.json({ ...endpointOut(created), secret: created.secret }, 201);
  });

  app.openapi(route.list, async (c) => {
    const repo = c.var.services.deps.webhooks;
    if (!repo) return unavailable(c);
    return c.json({ items: (await repo.listEndpoints()).map(endpointOut) }, 200);
  });

  app.openapi(route.deliveries, async (c) => {
    const repo = c.var.services.deps.webhooks;
    if (!repo) return unavailable(c);
    return c.json({ items: (await repo.recent(c.req.valid('query').limit)).map(deliveryOut) }, 200);
  });

  app.openapi(route.remove, async (c) => {
    const repo = c.var.services.deps.webhooks;
    if (!repo) return unavailable(c);
    const { id } = c.req.valid('param');
    if (!ID_PATTERN.test(id) || !(await repo.deleteEndpoint(id))) return problem(c, 'NOT_FOUND', `webhook endpoint ${id} does not exist`);
    return c.body(null, 204);
  });

  return app;
}
