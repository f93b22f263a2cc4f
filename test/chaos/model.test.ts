/**
 * The long search of the model-based fault test (`npm run test:chaos`): the same model, commands
 * and checks as test/model/model.test.ts, with more and longer runs. `MODEL_RUNS` (default 150
 * per gauge adapter), `MODEL_COMMANDS` (default 50), `MODEL_SHRINK_SECONDS` (default 300);
 * `FC_SEED` / `FC_PATH` replay a failure, `MODEL_ALLOW=id,…` looks past known defects.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { checkModel, optionsFromEnv } from '../model/runner.js';
import { Stats } from '../model/state.js';
import { startWorld, type GaugeKind, type World } from '../model/world.js';

const full = optionsFromEnv({ runs: 150, maxCommands: 50, shrinkSeconds: 300 });
// Over RESP (the same gauge and scripts as `redis`, another transport and other lost answers): 60 runs.
const resp = optionsFromEnv({ runs: 60, maxCommands: 50, shrinkSeconds: 300 });

for (const kind of ['redis', 'postgres', 'resp'] as const satisfies readonly GaugeKind[]) {
  const options = kind === 'resp' ? resp : full;
  describe(`model-based fault search on the ${kind} gauge`, () => {
    let world: World;
    const stats = new Stats();
    beforeAll(async () => {
      world = await startWorld(kind);
    }, 120_000);
    afterAll(async () => {
      console.log(`${stats.report(kind)}; Postgres client errors with no listener (link cut mid-transaction) ${world?.clientErrors() ?? 0}`);
      await world?.close();
    });

    it(`keeps every guarantee over ${options.runs} runs of up to ${options.maxCommands} commands`, { timeout: options.runs * 30_000 + options.shrinkSeconds * 1000 + 300_000 }, () =>
      checkModel(world, stats, options),
    );
  });
}
