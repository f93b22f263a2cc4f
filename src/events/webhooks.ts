/**
 * Webhook delivery, run by the schedule (never on the hot path): due deliveries are claimed,
 * signed and POSTed; a 2xx settles one, anything else (a status, a timeout, a refused
 * connection) is retried with exponential backoff until `MAX_ATTEMPTS`, then marked failed.
 * At least once: a receiver dedupes on the event id, which every attempt carries.
 *
 * Every attempt first asks the target policy (`targets.ts`) whether the URL, and on Node every
 * address its name resolves to, is public; a refused one records one generic error and sends
 * nothing. Redirects are never followed: a 3xx is a failed attempt, so a public receiver cannot
 * bounce a delivery inward.
 */
import type { DueDelivery, Outcome, WebhookRepository } from './ports.js';
import { signWebhook } from './signature.js';
import { DELIVERY_REFUSED, PUBLIC_ONLY, type TargetPolicy } from './targets.js';

/** Attempts before a delivery is given up as failed. */
export const MAX_ATTEMPTS = 8;
/** The wait after failed attempt `n` (1-based): 30 s, 1 min, 2 min, … capped at 6 hours. */
export const backoffMs = (attempt: number): number => Math.min(30_000 * 2 ** (attempt - 1), 6 * 3_600_000);

export interface DeliverOptions {
  repo: WebhookRepository;
  now: () => number;
  fetch?: typeof fetch;
  /** Overrides `repo.targets`. */
  targets?: TargetPolicy;
  limit?: number;
  timeoutMs?: number;
}

export interface DeliveryRun {
  delivered: number;
  retrying: number;
  failed: number;
}

/** Sends what is due; every delivery settles, whatever the receiver does. */
export async function deliverDue(options: DeliverOptions): Promise<DeliveryRun> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const how: Attempt = {
    // Called unbound: workerd's fetch refuses any `this` but the global one.
    send: options.fetch ?? ((input, init) => fetch(input, init)),
    targets: options.targets ?? options.repo.targets ?? PUBLIC_ONLY,
    now: options.now,
    timeoutMs,
  };
  const due = await options.repo.claimDue(new Date(options.now()), options.limit ?? 50, timeoutMs * 4);
  const run: DeliveryRun = { delivered: 0, retrying: 0, failed: 0 };
  await Promise.all(
    due.map(async (d) => {
      const outcome = await attempt(d, how);
      if (outcome.delivered) run.delivered += 1;
      else if (outcome.nextAttemptAt) run.retrying += 1;
      else run.failed += 1;
      await options.repo.settle(d, outcome, new Date(options.now()));
    }),
  );
  return run;
}

interface Attempt {
  send: typeof fetch;
  targets: TargetPolicy;
  now: () => number;
  timeoutMs: number;
}

/** One attempt at one delivery. A refused target is a failure like any other: retried, then given up. */
async function attempt(d: DueDelivery, how: Attempt): Promise<Outcome> {
  try {
    if (!(await how.targets.permits(d.url, how.timeoutMs))) return failure(d, null, DELIVERY_REFUSED, how.now());
    const res = await how.send(d.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'coupon-stock-webhooks/1',
        'coupon-stock-event': d.type,
        'coupon-stock-event-id': d.eventId,
        'coupon-stock-signature': await signWebhook(d.secret, d.body, how.now()),
      },
      body: d.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(how.timeoutMs),
    });
    await res.body?.cancel();
    if (res.ok) return { delivered: true, status: res.status };
    // A browser-style fetch reports a manual redirect as an opaque response with status 0.
    if (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400)) {
      return failure(d, res.status || null, `answered ${res.status || '3xx'}: redirects are not followed`, how.now());
    }
    return failure(d, res.status, `answered ${res.status}`, how.now());
  } catch (error) {
    return failure(d, null, error instanceof Error ? `${error.name}: ${error.message}` : String(error), how.now());
  }
}

function failure(d: DueDelivery, status: number | null, error: string, now: number): Outcome {
  const attempt = d.attempts + 1;
  return { delivered: false, status, error: error.slice(0, 500), nextAttemptAt: attempt >= MAX_ATTEMPTS ? null : new Date(now + backoffMs(attempt)) };
}
