/**
 * Request and response schemas: the HTTP contract in zod, also the source of the OpenAPI
 * document (`GET /openapi.json`; the guarantees behind it: docs/guarantees.md). Unknown fields
 * are refused so a typo (`issue_stock`) is never ignored. Every schema is named `…Schema` after
 * its OpenAPI component; every wire type is inferred from its schema (`…Json`), never written
 * again by hand.
 */
export * from './schemas/common.js';
export * from './schemas/coupon.js';
export * from './schemas/take.js';
