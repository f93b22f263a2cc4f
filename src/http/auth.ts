/**
 * Bearer auth with two tokens: the admin token may do everything, the client token may issue,
 * use, cancel and read live stock. Tokens are compared as SHA-256 digests in constant time, so
 * neither content nor length leaks through timing.
 */
import type { MiddlewareHandler } from 'hono';
import { problem } from './problem.js';

export type Role = 'admin' | 'client';

declare module 'hono' {
  interface ContextVariableMap {
    /** The role the bearer token grants. */
    role: Role;
    /** A stable, non-secret name for the caller's token (idempotency keys are scoped by it). */
    caller: string;
  }
}

export interface Tokens {
  admin: string;
  client: string;
}

const encoder = new TextEncoder();

/** The SHA-256 digest of a token: what tokens are compared as. */
export async function digest(value: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(value)));
}

/** Equal digests, compared without an early exit. */
export function digestsEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length && i < b.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** `Authorization: Bearer <token>`: the token is 1–512 visible ASCII characters. */
export const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/i;

const hex = (bytes: Uint8Array, n: number) =>
  Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join('');

/** Resolves the bearer token to a role, or answers 401. */
export function bearerAuth(tokens: Tokens): MiddlewareHandler {
  const known = Promise.all([digest(tokens.admin), digest(tokens.client)]);
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = BEARER.exec(header.trim());
    if (!match?.[1]) return problem(c, 'UNAUTHORIZED', 'send Authorization: Bearer <token>');
    const [admin, client] = await known;
    const presented = await digest(match[1]);
    // Both comparisons always run so the time does not tell which token matched.
    const isAdmin = digestsEqual(presented, admin);
    const isClient = digestsEqual(presented, client);
    if (!isAdmin && !isClient) return problem(c, 'UNAUTHORIZED', 'the bearer token is not valid');
    c.set('role', isAdmin ? 'admin' : 'client');
    c.set('caller', hex(presented, 8));
    await next();
  };
}

/** Refuses a client token on an admin route with 403. */
export const requireAdmin: MiddlewareHandler = async (c, next) => {
  if (c.get('role') !== 'admin') return problem(c, 'FORBIDDEN', 'this route needs the admin token');
  await next();
};
