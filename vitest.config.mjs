import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Installs kcat and librdkafka's Python client when missing (see the file).
    globalSetup: ['test/global-setup.mjs'],
    // Tests open data directories and spawn processes: run files in forked
    // workers with --expose-gc so GC tests can force collection.
    pool: 'forks',
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
    testTimeout: 30000,
  },
});
