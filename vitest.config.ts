import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Example skills and test fixtures, built here when stale (test/global-setup.ts).
    globalSetup: ['test/global-setup.ts'],
    // Real worker threads, real builds and real servers: generous but bounded.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: keep suites from starving each other's timing-sensitive parts.
    maxWorkers: 2,
  },
});
