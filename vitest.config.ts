import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/chaos/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two files at a time: most of a file's time is waiting on the processes it starts (Redis, RGW,
    // workers), so two share the 2 cores without starving each other; vitest's default here is one.
    maxWorkers: 2,
    minWorkers: 1,
    setupFiles: ['test/setup/fault-injection.ts'],
    // In CI a JSON report as well, from which .ci/run prints one plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: '.tmp/vitest-results.json' },
  },
});
