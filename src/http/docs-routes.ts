/**
 * `/docs`: the interactive API reference (Scalar) over `/openapi.json`. The page is one HTML
 * document plus Scalar's standalone browser bundle. A host that can read the bundle (the Node
 * host) serves it from `/docs/assets/…`, so the page renders with no internet; without one (the
 * Worker) the page loads the same version from jsDelivr.
 */
import { Scalar } from '@scalar/hono-api-reference';
import { Hono } from 'hono';
import type { AppEnv } from './context.js';

/** Scalar's standalone bundle as a host can provide it. */
export interface DocsAssets {
  /** The `@scalar/api-reference` version of the bundle: part of its URL, so it can be cached for good. */
  version: string;
  /** The bytes of `dist/browser/standalone.js` (read once, kept by the caller). */
  standalone: () => Promise<Uint8Array>;
}

/** The version the Worker loads from the CDN: the one `package.json` installs, kept in step by a test. */
export const SCALAR_CDN_VERSION = '1.76.0';

/** Where the page loads the bundle from. */
export function standaloneUrl(assets: DocsAssets | undefined): string {
  return assets
    ? `/docs/assets/api-reference@${assets.version}/standalone.js`
    : `https://cdn.jsdelivr.net/npm/@scalar/api-reference@${SCALAR_CDN_VERSION}/dist/browser/standalone.js`;
}

/** `GET /docs` and, with `assets`, `GET /docs/assets/api-reference@<version>/standalone.js`. */
export function docsRoutes(assets?: DocsAssets): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get(
    '/docs',
    // No default fonts: they come from fonts.scalar.com, and the page must need nothing but us.
    Scalar({ url: '/openapi.json', pageTitle: 'coupon-stock API', cdn: standaloneUrl(assets), withDefaultFonts: false }),
  );
  if (assets) {
    const path = standaloneUrl(assets);
    routes.get(path, async (c) => {
      const body = await assets.standalone();
      c.header('Content-Type', 'text/javascript; charset=utf-8');
      // The version is in the URL: a new bundle gets a new URL, so this one never changes.
      c.header('Cache-Control', 'public, max-age=31536000, immutable');
      c.header('X-Content-Type-Options', 'nosniff');
      return c.body(body as Uint8Array<ArrayBuffer>);
    });
  }
  return routes;
}
