/**
 * `npm run bench:sold-out [-- --quick]`: the sold-out tail of `npm run bench` on its own
 * (`sold-out.ts`): a private redis-server, the local Upstash REST endpoint, and two services
 * (with and without the sold-out memo), in one run. Prints the rows and exits non-zero when a
 * count is off.
 */
import { Checks } from './model.js';
import { parseOptions } from './options.js';
import { say } from './progress.js';
import { textTable } from './report.js';
import { measureSoldOut } from './sold-out.js';
import { Stack, startRedis, startRest } from './stack.js';

const options = parseOptions(process.argv.slice(2));
const stack = new Stack();
const checks = new Checks();
let exitCode = 0;
try {
  say('sold-out tail: starting a private redis-server and the local Upstash REST endpoint');
  const redis = await startRedis(stack);
  const rest = await startRest(stack, redis);
  const rows = await measureSoldOut(stack, redis, rest, options, checks);
  process.stdout.write(`${textTable({ rows, bareCounter: 0, failures: checks.failures, context: [], quick: options.quick })}\n`);
  exitCode = checks.failures.length > 0 ? 1 : 0;
} catch (error) {
  say(`the benchmark broke: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  exitCode = 2;
} finally {
  await stack.stopAll();
}
process.exit(exitCode);
