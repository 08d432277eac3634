import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'demo',
    include: ['src/**/*.test.ts'],
    exclude: ['src/**/*.system.test.ts', '**/*.system.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
