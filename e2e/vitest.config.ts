// The end-to-end suite: `pnpm e2e` (root script: turbo build, then this config). One suite, two
// drivers: E2E_DRIVER=kind|podman, default = what the machine has (see src/driver.ts).
// Files run one after another: each deploys real pods, and CI has 2 cores.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'e2e',
    root: import.meta.dirname,
    include: ['tests/**/*.e2e.test.ts'],
    globalSetup: ['./src/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 600_000,
    reporters: ['default', '../scripts/summary-reporter.ts'],
  },
});
