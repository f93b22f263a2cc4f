/**
 * Webhook signatures: `Coupon-Stock-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
 * `<t>.<body>` with the endpoint's secret, as Stripe signs. A receiver recomputes it, compares in
 * constant time, refuses a `t` older than its tolerance (a replayed request), and drops an event
 * id it has seen (a retried delivery). Web Crypto only: the same code signs on Node and workerd.
 */
import { hex } from '../util/hex.js';

const encoder = new TextEncoder();

/** How old a signature may be before `verifyWebhook` refuses it as a replay (seconds). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return hex(await crypto.subtle.sign('HMAC', key, encoder.encode(message)));
}

/** The signature header of `body` sent at `at` (ms since the epoch). */
export async function signWebhook(secret: string, body: string, at: number): Promise<string> {
  const t = Math.floor(at / 1000);
  return `t=${t},v1=${await hmacHex(secret, `${t}.${body}`)}`;
}

/** Whether `header` signs `body` with `secret`, no older than `toleranceSeconds` at `now`. */
export async function verifyWebhook(secret: string, header: string, body: string, now: number, toleranceSeconds = DEFAULT_TOLERANCE_SECONDS): Promise<boolean> {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  const given = parts.v1 ?? '';
  if (!Number.isInteger(t) || Math.abs(now / 1000 - t) > toleranceSeconds) return false;
  const expected = await hmacHex(secret, `${t}.${body}`);
  let diff = given.length ^ expected.length;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ given.charCodeAt(i % (given.length || 1));
  return diff === 0;
}
