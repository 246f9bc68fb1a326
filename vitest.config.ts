import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Integration tests hold the server to Envoy's 200 ms message timeout; files running side by side on a 2-core
    // machine would measure each other's CPU, not tokenmeter. One file at a time keeps those timings honest.
    fileParallelism: false,
  },
});
