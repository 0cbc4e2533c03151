import { defineConfig } from 'vitest/config';

// The engine's own tests. The example pipeline's integrity tests (tests/integrity) are run by
// `batch` itself at the end of a pipeline run, never by this suite.
export default defineConfig({
  test: {
    include: ['tests/engine/**/*.test.ts'],
    exclude: ['tests/integrity/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    // No test starts a project daemon by itself (auto-start.test.ts clears this to test exactly
    // that): a `batch` outside CI would, and leave it running after the suite.
    env: { BATCH_DAEMON: 'manual' },
  },
});
