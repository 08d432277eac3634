// What of e2e/ needs only Node.js, in `pnpm test` through the root projects: the manifests check
// (renders every kustomization, validates each object against the Kubernetes schema and the
// hardening rules), the workflow files check, and the kind driver's unit tests (stand-ins for
// kubectl, docker and kind; no cluster).
import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'manifests',
    root: import.meta.dirname,
    include: ['manifests/**/*.test.ts', 'src/**/*.test.ts'],
  },
});
