// Node-only check of the manifests (renders every kustomization, validates each object against
// the Kubernetes schema and the hardening rules). Part of `pnpm test` through the root projects.
import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'manifests', root: import.meta.dirname, include: ['manifests/**/*.test.ts'] },
});
