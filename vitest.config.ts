// Unit and integration tests that need only Node.js: `pnpm test`, the suite to run on every change.
// The script passes --maxWorkers=100% (one file per core): the suites mostly wait on real
// servers, sockets and timers, and vitest's default (cores - 1, set per project) runs every file
// in a row on a 2-core machine. A root `maxWorkers` here would not reach the projects.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*', 'demo', 'observability', 'e2e/vitest.manifests.config.ts'],
    reporters: ['default', './scripts/summary-reporter.ts'],
  },
});
