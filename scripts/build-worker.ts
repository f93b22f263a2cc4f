/**
 * Bundles the Worker (`src/worker.ts`) into `dist/worker.js` the way Wrangler would for
 * workerd, so tests run the same code in Miniflare. Dev tools (scripts/) are never imported
 * by the entry, so they stay out of the bundle.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

export const WORKER_BUNDLE = fileURLToPath(new URL('../dist/worker.js', import.meta.url));

export async function buildWorker(): Promise<{ path: string; bytes: number }> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('../src/worker.ts', import.meta.url))],
    outfile: WORKER_BUNDLE,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    minify: false,
    sourcemap: false,
    metafile: true,
    logLevel: 'silent',
  });
  const output = Object.values(result.metafile.outputs)[0];
  return { path: WORKER_BUNDLE, bytes: output?.bytes ?? 0 };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { path, bytes } = await buildWorker();
  console.log(`built ${path} (${(bytes / 1024).toFixed(0)} KiB)`);
}
