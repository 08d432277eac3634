// Prints the plain closing line CI reads ("N passed, N failed, N skipped") after vitest's own summary,
// and, when MULTIPOD_SUMMARY_DIR is set, saves the counts so .ci/run can add up every suite.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Reporter, TestModule, Vitest } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  #suite = 'tests';

  onInit(vitest: Vitest): void {
    // vitest.config.ts → unit, vitest.system.config.ts → system, e2e/vitest.config.ts → e2e
    // Relative to where pnpm ran the script (the repository root), not the config's own root.
    const config = vitest.config.config ? relative(process.cwd(), vitest.config.config) : '';
    const dir = dirname(config);
    this.#suite = dir !== '.' ? dir : (/^vitest\.(.+)\.config\./.exec(config)?.[1] ?? 'unit');
  }

  onTestRunEnd(modules: readonly TestModule[]): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of modules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
      // A file that failed to load has no tests but must still count as a failure.
      if (mod.state() === 'failed' && mod.children.size === 0) failed++;
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    const dir = process.env.MULTIPOD_SUMMARY_DIR;
    if (dir) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${this.#suite}.json`), JSON.stringify({ passed, failed, skipped }));
    }
  }
}
