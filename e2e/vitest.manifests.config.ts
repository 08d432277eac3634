// What of e2e/ needs only Node.js, in `pnpm test` through the root projects: the manifests check
// (renders every kustomization, validates each object against the Kubernetes schema and the
// hardening rules) and the workflow files check. The kind driver's tests (stand-ins for kubectl,
// docker and kind; no cluster) take seconds of processes: src/kind.system.test.ts, in test:system.
import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'manifests',
    root: import.meta.dirname,
    include: ['manifests/**/*.test.ts', 'src/**/*.test.ts'],
    exclude: ['**/*.system.test.ts'],
  },
});
