/**
 * The kind end-to-end suite only (`npm run e2e`): the *.e2e.ts files under test/e2e. The normal `npm test` never
 * matches them (vitest.config.ts includes *.test.ts), so it does not create clusters. Steps take minutes (cluster, image
 * build, Helm installs); each step sets its own timeout below these ceilings.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    testTimeout: 60 * 60_000,
    hookTimeout: 15 * 60_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['verbose'],
  },
});
