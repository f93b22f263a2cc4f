/**
 * The admin page's secrets, all HMAC-SHA256 (WebCrypto, so Node and Workers run the same code)
 * keyed by the admin token: the session cookie, the CSRF token of each form, and the signature
 * of flash messages. Nothing is kept server-side, the raw token never leaves the server, and
 * rotating the admin token ends every session and voids every rendered form.
 */
import { digestsEqual } from '../auth.js';

const encoder = new TextEncoder();

/** How long a login lasts. */
export const SESSION_SECONDS = 8 * 60 * 60;

/** Bytes to unpadded base64url (btoa exists on Node and Workers; Buffer does not on Workers). */
export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/** Unpadded base64url to bytes; `null` when it is not base64url. */
export function fromBase64url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
    return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}

/** Equal strings, compared in constant time for a given length (MACs are all one length). */
const sameText = (a: string, b: string) => digestsEqual(encoder.encode(a), encoder.encode(b));

export class AdminSecrets {
  private readonly key: Promise<CryptoKey>;

  constructor(adminToken: string) {
    this.key = crypto.subtle.importKey('raw', encoder.encode(adminToken), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  }

  /**
   * The MAC of a purpose and its parts. JSON framing keeps `("a.b", "c")` and `("a", "b.c")`
   * apart, and the purpose keeps a CSRF token from ever passing as a session or a flash.
   */
  async mac(purpose: 'session' | 'csrf' | 'flash', ...parts: string[]): Promise<string> {
    const message = encoder.encode(JSON.stringify([purpose, ...parts]));
    return base64url(new Uint8Array(await crypto.subtle.sign('HMAC', await this.key, message)));
  }

  /** Whether `presented` is the MAC of the purpose and parts (constant time). */
  async verify(presented: string, purpose: 'session' | 'csrf' | 'flash', ...parts: string[]): Promise<boolean> {
    return sameText(await this.mac(purpose, ...parts), presented);
  }

  /** A new session cookie value `<id>.<expires>.<mac>`: a random id, not the token. */
  async newSession(nowMs: number): Promise<string> {
    const id = base64url(crypto.getRandomValues(new Uint8Array(16)));
    const expires = String(Math.floor(nowMs / 1000) + SESSION_SECONDS);
    return `${id}.${expires}.${await this.mac('session', id, expires)}`;
  }

  /** The session id of a valid, unexpired cookie value, else `null`. */
  async readSession(value: string | undefined, nowMs: number): Promise<string | null> {
    const match = /^([A-Za-z0-9_-]{22})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value ?? '');
    if (!match) return null;
    const [, id = '', expires = '', presented = ''] = match;
    const valid = await this.verify(presented, 'session', id, expires);
    return valid && Number(expires) * 1000 > nowMs ? id : null;
  }

  /** The CSRF token of one action's forms in one session. */
  csrf(sessionId: string, action: string): Promise<string> {
    return this.mac('csrf', sessionId, action);
  }

  checkCsrf(sessionId: string, action: string, presented: string): Promise<boolean> {
    return this.verify(presented, 'csrf', sessionId, action);
  }
}
