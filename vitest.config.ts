import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'ui/**/*.test.ts'],
    testTimeout: 60_000,
    // one private PostgreSQL for the whole run (test/support/postgres.ts)
    globalSetup: ['test/support/global-setup.ts'],
    hookTimeout: 120_000,
    // end-to-end suites start real servers, agents and containers: run files one at a time
    // so they do not fight over the two cores and the Docker engine
    fileParallelism: false,
    reporters: ['default'],
  },
});
