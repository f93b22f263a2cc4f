/**
 * Body limits. Every request under the API has one before anything reads its body, auth
 * included (an oversized body is 413 whoever sends it); a route that needs another limit
 * declares it beside its own definition (`RouteBodyLimit`), and the app installs it on that
 * route's path ahead of the default, which then stands aside.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { problem } from './problem.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** The body limit already applied to this request (a route's own, or the default). */
    bodyLimit: number;
  }
}

/** A route's own body limit: the router path it is served at (Hono syntax) and its bytes. */
export interface RouteBodyLimit {
  path: string;
  maxBytes: number;
}

/**
 * Refuses a body over `maxBytes` with 413 PAYLOAD_TOO_LARGE, unless a limit was applied already.
 * A declared length is checked from the header alone: Hono's bodyLimit would first touch
 * `req.body`, which on Node turns the request into a web stream (~10% of a take's CPU); it still
 * counts the bytes of a chunked body, which declares no length.
 */
export function limitBody(maxBytes: number): MiddlewareHandler {
  const tooLarge = (c: Context) => problem(c, 'PAYLOAD_TOO_LARGE', `the body exceeds ${maxBytes} bytes`);
  const streamed = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return (c, next) => {
    if (c.get('bodyLimit') !== undefined) return next();
    c.set('bodyLimit', maxBytes);
    const headers = c.req.raw.headers;
    const length = headers.get('content-length');
    if (length !== null && !headers.has('transfer-encoding')) return parseInt(length, 10) > maxBytes ? Promise.resolve(tooLarge(c)) : next();
    return streamed(c, next);
  };
}
