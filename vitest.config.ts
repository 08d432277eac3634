// Unit and integration tests that need only Node.js: `pnpm test`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*', 'demo', 'observability', 'e2e/vitest.manifests.config.ts'],
    reporters: ['default', './scripts/summary-reporter.ts'],
  },
});
