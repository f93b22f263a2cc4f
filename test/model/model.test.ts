/**
 * The model-based fault test (issue 10): random sequences and concurrent moments of every
 * operation, with faults (keys deleted from Redis, answers lost after they ran, PostgreSQL
 * unreachable), through the HTTP app on real Redis and real PostgreSQL, against both gauge
 * adapters (the Redis gauge over Upstash REST, and a shorter search over RESP); the books are checked op by op after every run. `npm run test:chaos` searches
 * longer (test/chaos/model.test.ts). Replay a failure with the FC_SEED and FC_PATH it prints.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { checkModel, optionsFromEnv } from './runner.js';
import { Stats } from './state.js';
import { startWorld, type GaugeKind, type World } from './world.js';

const full = optionsFromEnv({ runs: 40, maxCommands: 30, shrinkSeconds: 60 });
// The same gauge and scripts as `redis`, another transport: a short search here, longer in test:chaos.
const short = optionsFromEnv({ runs: 20, maxCommands: 30, shrinkSeconds: 60 });

for (const kind of ['redis', 'postgres', 'resp'] as const satisfies readonly GaugeKind[]) {
  const options = kind === 'resp' ? short : full;
  describe(`model-based fault test on the ${kind} gauge`, () => {
    let world: World;
    const stats = new Stats();
    beforeAll(async () => {
      world = await startWorld(kind);
    }, 60_000);
    afterAll(async () => {
      console.log(`${stats.report(kind)}; Postgres client errors with no listener (link cut mid-transaction) ${world?.clientErrors() ?? 0}`);
      await world?.close();
    });

    it(
      'keeps every guarantee under random operations, concurrent moments and faults',
      { timeout: options.runs * 20_000 + options.shrinkSeconds * 1000 + 120_000 },
      () => checkModel(world, stats, options),
    );
  });
}
