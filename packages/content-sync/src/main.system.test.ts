// The process stopped in the middle of a publish of 10,000 files: seconds of copying on a slow
// disk, so in the system suite (`pnpm test:system`). Runs dist/main.js as a child.
import { readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fillTree, type MainRuns, mainRuns, readTree, waitFor } from './testing.ts';

let runs: MainRuns;
let root: string;
const run = (env: Record<string, string>) => runs.run(env);

beforeAll(() => {
  runs = mainRuns('main-system');
  root = runs.root;
});
afterEach(() => runs.kill());
afterAll(() => runs.remove());

describe('sidecar process', () => {
  it('on SIGTERM in the middle of a publish exits 0 and leaves the live snapshot whole', async () => {
    const src = join(root, 'big-src');
    const target = join(root, 'big-www');
    fillTree(src, 40, 250, 'v1 ');
    // The live snapshot: published by an init-container style run.
    const once = run({ SYNC_SOURCE: src, SYNC_TARGET: target, SYNC_ONCE: 'true' });
    expect(await once.exited).toBe(0);
    const live = realpathSync(join(target, 'current'));
    // A new version of every file, then the sidecar starts publishing it and is stopped midway.
    fillTree(src, 40, 250, 'v2 ');
    const c = run({ SYNC_SOURCE: src, SYNC_TARGET: target });
    const snapshots = join(target, '.snapshots');
    await waitFor(
      'a build in progress',
      () => readdirSync(snapshots).some((n) => n.startsWith('.tmp-')),
      20_000,
    );
    c.proc.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    const now = realpathSync(join(target, 'current'));
    const tree = readTree(now);
    expect(Object.keys(tree)).toHaveLength(10_000);
    const versions = new Set(Object.values(tree).map((v) => v.slice(0, 2)));
    expect(versions.size).toBe(1); // all v1 (the build was cut short) or all v2: never a mix
    if (now === live) expect(versions.has('v1')).toBe(true);
    expect(readdirSync(snapshots).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  }, 60_000);
});
