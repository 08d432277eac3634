// Tests against real peers installed from Debian (nginx, mtail, Prometheus, promtool, Chromium):
// `pnpm test:system`, run by .ci/run after it installs them. Files are named *.system.test.ts.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'packages/*/src/**/*.system.test.ts',
      'demo/**/*.system.test.ts',
      'observability/src/**/*.system.test.ts',
    ],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    reporters: ['default', './scripts/summary-reporter.ts'],
  },
});
