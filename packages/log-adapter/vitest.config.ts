import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'log-adapter',
    include: ['src/**/*.test.ts'],
    exclude: ['src/**/*.system.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
