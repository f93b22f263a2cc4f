/**
 * `tsx scripts/neon-proxy/main.ts`: runs the Neon proxy (WebSocket and HTTP queries) on its own (PORT, default a
 * free port; HOST, default 127.0.0.1) for the PostgreSQL named by DATABASE_URL (or the
 * `host:port` list in NEON_PROXY_TARGETS), and prints the NEON_WS_PROXY value to give the
 * Worker: `host:port/<secret>`, a new secret on every start.
 */
import { startNeonProxy, targetOf } from './proxy.js';

async function main(): Promise<void> {
  const port = process.env.PORT ? Number(process.env.PORT) : 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`PORT must be a port number, got "${process.env.PORT}"`);
  const targets = (process.env.NEON_PROXY_TARGETS ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  if (process.env.DATABASE_URL) targets.push(targetOf(process.env.DATABASE_URL));
  if (targets.length === 0) throw new Error('name the PostgreSQL it is for: DATABASE_URL=postgres://… or NEON_PROXY_TARGETS=host:port');
  const proxy = await startNeonProxy({ port, host: process.env.HOST ?? '127.0.0.1', targets });
  console.log(`neon-proxy: listening on ${proxy.url} for ${targets.join(', ')} (NEON_WS_PROXY=${proxy.wsProxy}; HTTP queries at ${proxy.fetchEndpoint})`);
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
