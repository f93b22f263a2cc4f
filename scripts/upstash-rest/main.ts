/**
 * Runs the local Upstash REST endpoint on its own: REDIS_URL (default redis://127.0.0.1:6379),
 * UPSTASH_REDIS_REST_TOKEN (required), PORT (default 8079).
 */
import { startUpstashRest } from './server.js';

const token = process.env.UPSTASH_REDIS_REST_TOKEN;
if (!token) {
  console.error('upstash-rest: set UPSTASH_REDIS_REST_TOKEN');
  process.exit(1);
}
const rest = await startUpstashRest({
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  token,
  port: Number(process.env.PORT ?? 8079),
});
console.log(`upstash-rest: listening on ${rest.url}`);
const stop = () => void rest.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
