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
          // e2e tests build images and boot VMs: one file at a time, long time-outs.
          fileParallelism: false,
          testTimeout: 45 * 60_000,
          hookTimeout: 45 * 60_000,
        },
      },
    ],
  },
});
