/**
 * Scalar's standalone browser bundle, read from the installed `@scalar/api-reference`, so the
 * Node host serves `/docs` with no internet.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { DocsAssets } from '../http/docs-routes.js';

/** The bundle of the installed package; the file is read on the first request and kept. */
export async function nodeDocsAssets(): Promise<DocsAssets> {
  // The package's `exports` hides `package.json` and `dist/browser`; its main entry is `dist/index.js`.
  const root = dirname(dirname(createRequire(import.meta.url).resolve('@scalar/api-reference')));
  const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  let bytes: Promise<Uint8Array> | undefined;
  return {
    version,
    standalone: () => (bytes ??= readFile(join(root, 'dist', 'browser', 'standalone.js'))),
  };
}
