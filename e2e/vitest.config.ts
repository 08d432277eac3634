// The end-to-end suite: `pnpm e2e` (root script: turbo build, then this config). One suite, two
// drivers: E2E_DRIVER=kind|podman, default = what the machine has (see src/driver.ts).
// Files run one after another: each deploys real pods, and CI has 2 cores.
import { defineConfig } from 'vitest/config';
import { pickDriver } from './src/driver.ts';

// tests/kubernetes-only/ needs what only a real Kubernetes has (native sidecars, ≥ 1.29).
const kubernetesOnly = pickDriver() === 'kind' ? ['tests/kubernetes-only/*.e2e.test.ts'] : [];

export default defineConfig({
  test: {
    name: 'e2e',
    root: import.meta.dirname,
    include: ['tests/*.e2e.test.ts', ...kubernetesOnly],
    globalSetup: ['./src/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 600_000,
    reporters: ['default', '../scripts/summary-reporter.ts'],
  },
});
