import { defineConfig } from 'vitest/config';

/**
 * `npm run test:chaos`: the long-running reliability suites (test/chaos/), on the same real
 * servers as `npm test`. One file at a time, in a child process started with --expose-gc so
 * the soak can sample the heap after a full collection.
 */
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
    execArgv: ['--expose-gc'],
    maxWorkers: 1,
  },
});
