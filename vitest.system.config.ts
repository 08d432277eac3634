// The second tier, `pnpm test:system`, run by .ci/run after it installs the peers: tests against
// real peers installed from Debian (nginx, mtail, Prometheus, promtool, Chromium), tests that need
// root (tmpfs mounts), and tests that take seconds each (gigabytes streamed, thousands of files,
// real timeouts, whole processes). Files are named *.system.test.ts; `pnpm test` stays fast.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'packages/*/src/**/*.system.test.ts',
      'demo/**/*.system.test.ts',
      'observability/src/**/*.system.test.ts',
      'e2e/src/**/*.system.test.ts',
    ],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    reporters: ['default', './scripts/summary-reporter.ts'],
  },
});
