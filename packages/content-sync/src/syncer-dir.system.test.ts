// The directory source on trees of thousands of files, where what is tested is a race against a
// build under way: seconds each on a slow disk, so in the system suite (`pnpm test:system`).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DirSetup, dirSetup, fillTree, waitFor } from './testing.ts';

let d: DirSetup;
beforeEach(() => {
  d = dirSetup();
});
afterEach(() => d.remove());

describe('directory source, thousands of files', () => {
  it('publishes a write made during the first publish (before any watch exists) without waiting for the rescan', async () => {
    const { src, target } = d;
    d.put('a.txt', 'v1'); // in the root directory: among the first files copied
    fillTree(src, 3, 800);
    const { syncer } = d.make({ interval: 600_000 });
    await syncer.prepare();
    const started = syncer.start();
    const snapshots = join(target, '.snapshots');
    const copied = (tmp: string) =>
      readdirSync(tmp, { recursive: true }).length - (existsSync(join(tmp, 'a.txt')) ? 0 : Infinity);
    // Once a.txt and a few hundred files after it are in the snapshot being built (its copy
    // checked against the source long ago), or that snapshot is already published, edit it.
    await waitFor(
      'a.txt copied',
      () =>
        existsSync(join(target, 'current')) ||
        readdirSync(snapshots).some((n) => n.startsWith('.tmp-') && copied(join(snapshots, n)) >= 300),
    );
    d.put('a.txt', 'v2');
    await started;
    await waitFor('v2', () => readFileSync(join(target, 'current/a.txt'), 'utf8') === 'v2', 5_000);
  });

  it('applies a change that arrives while the spare is being built to the spare, not a full build', async () => {
    // 2,400 files: the spare (one hard link per file, in slices of 1,000) is still being built
    // when the change below is synced.
    const { src, target } = d;
    fillTree(src, 3, 800);
    const t = await d.start();
    await new Promise((r) => setImmediate(r)); // the spare's build has begun
    d.put('d1/f7.txt', 'changed');
    const out = await t.syncer.syncNow();
    expect(out.result).toBe('published');
    const publish = t.logs.find((l) => l.msg === 'published' && l.snapshot === out.snapshot);
    expect(publish).toMatchObject({ recycled: true, copied: 1, kept: 2399 });
    expect(t.logs.some((l) => l.msg === 'spare snapshot not built')).toBe(false);
    expect(readFileSync(join(target, 'current/d1/f7.txt'), 'utf8')).toBe('changed');
    expect(readFileSync(join(target, 'current/d2/f799.txt'), 'utf8')).toBe('2/799');
  });
});
