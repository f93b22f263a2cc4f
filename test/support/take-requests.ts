/**
 * Proof of "one take = one round trip": the requests the local REST endpoint logged that ran
 * the take script. Anything else (a ledger drain after the response) is not the take.
 */
import { createHash } from 'node:crypto';
import type { RestStats } from '../../scripts/upstash-rest/server.js';
import { TAKE } from '../../src/adapters/redis/scripts.js';

const TAKE_SHA = createHash('sha1').update(TAKE).digest('hex');

/**
 * Requests that carried the take script, each as the take commands in it. On Node the gauge
 * coalesces the scripts of one event-loop turn, so a drain's script may share the take's request:
 * what counts is one request, and one command in it, per take.
 */
export const takeRequests = (stats: RestStats) =>
  stats.log.filter((commands) => commands.includes(`EVALSHA ${TAKE_SHA}`)).map((commands) => commands.filter((c) => c === `EVALSHA ${TAKE_SHA}`));
