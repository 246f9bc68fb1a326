import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Integration tests run servers against deadlines (the emulated Envoy's message timeout, Redis command timeouts);
    // files running side by side on a 2-core machine would load each other's CPU, not tokenmeter's. One file at a time.
    fileParallelism: false,
  },
});
