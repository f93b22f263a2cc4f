/**
 * The fingerprint of a take's body: the same Idempotency-Key with another body is refused
 * (409 IDEMPOTENCY_KEY_REUSED). It guards a caller against its own mistakes, not against an
 * adversary (keys are scoped to the caller's token, so a collision could only replay the
 * caller's own first answer), so a fast 128-bit non-cryptographic hash is enough; it is
 * synchronous, where a SHA-256 through `crypto.subtle` is a thread-pool job per request.
 */

/** 128 bits of `text` as 32 hex digits (cyrb128: four 32-bit multiply-xor lanes, mixed at the end). */
export function hash128(text: string): string {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1, h2, h3, h4].map((h) => (h >>> 0).toString(16).padStart(8, '0')).join('');
}

/** The fingerprint of a body: its fields in name order, `undefined` as `null`. */
export function fingerprint(body: Record<string, unknown>): string {
  return hash128(JSON.stringify(Object.keys(body).sort().map((k) => [k, body[k] ?? null])));
}
