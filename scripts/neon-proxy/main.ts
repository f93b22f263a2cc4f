/**
 * `tsx scripts/neon-proxy/main.ts`: runs the Neon WebSocket proxy on its own (PORT, default a
 * free port; HOST, default 127.0.0.1) and prints the URL to give the Worker as NEON_WS_PROXY.
 */
import { startNeonProxy } from './proxy.js';

async function main(): Promise<void> {
  const port = process.env.PORT ? Number(process.env.PORT) : 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`PORT must be a port number, got "${process.env.PORT}"`);
  const proxy = await startNeonProxy({ port, host: process.env.HOST ?? '127.0.0.1' });
  console.log(`neon-proxy: listening on ${proxy.url} (NEON_WS_PROXY=${proxy.url.replace(/^ws:\/\//, '')})`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void proxy.close().then(() => process.exit(0));
    });
  }
}

main().catch((error: unknown) => {
  console.error(`neon-proxy: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
