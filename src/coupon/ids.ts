/**
 * Identifiers: a prefix, 10 characters of time (ms, Crockford base32) and 16 of randomness,
 * so ids sort by creation and cursor paging over them is stable.
 */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export type IdKind = 'cpn' | 'iss' | 'use' | 'evt' | 'whk' | 'adj';

export function newId(kind: IdKind, now: number = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let rand = '';
  for (const b of bytes) rand += ALPHABET[b % 32];
  return `${kind}_${time}${rand}`;
}

/** What an id of ours can look like; anything else cannot exist (404 without a lookup). */
export const ID_PATTERN = /^[a-z]{3}_[0-9a-z]{26}$/;
