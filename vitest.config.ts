import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // e2e tests build images and boot VMs: one file at a time. A project's own fileParallelism is ignored
          // (the pool comes from the root config), so scripts/run-tests.sh runs the e2e project in a vitest run of
          // its own with --no-file-parallelism (one worker); `make test`, `make test-e2e` and `npm test` go through it.
          testTimeout: 45 * 60_000,
          hookTimeout: 45 * 60_000,
        },
      },
    ],
  },
});
