import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Long simulated transfers run in virtual time but still cost CPU; give them room.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // The default reporter prints the pass/fail/skip counts at the end.
    reporters: ['default'],
  },
});
