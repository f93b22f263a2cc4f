/**
 * `npm start`: the service on Node with the embedded default (PGlite in `DATA_DIR`, Postgres
 * gauges), or the PostgreSQL named by `DATABASE_URL`. Zero setup.
 */
import { describeTokens, parseEnv } from './node/config.js';
import { startNodeHost } from './node/host.js';

const parsed = parseEnv(process.env);
if (!parsed.ok) {
  console.error(`coupon-stock: ${parsed.message}`);
  process.exit(1);
}

try {
  const host = await startNodeHost(parsed.config);
  console.log(`coupon-stock listening on ${host.url}  (docs: ${host.url}/docs)`);
  for (const line of describeTokens(host.tokens)) console.log(line);
  let signalled = false;
  const shutdown = (signal: string) => {
    if (signalled) return;
    signalled = true;
    console.log(`coupon-stock: ${signal} received, shutting down`);
    host.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`coupon-stock: shutdown failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
} catch (error) {
  console.error(`coupon-stock: could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
