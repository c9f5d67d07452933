import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The kernel end-to-end tests wait on real timers; unit tests never sleep.
    testTimeout: 10_000,
  },
});
