// The snapshot pool alone, on real directories: ids, recycling of a replaced snapshot, the spare,
// and what pruning keeps.
import { existsSync, mkdirSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@multipod/service';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { swapCurrent } from './publish.ts';
import { scanTree, type Tree } from './scan.ts';
import { SnapshotPool } from './snapshot-pool.ts';
import { fillTree, putFile, readTree, removeDir, snapshotIds, tempDir, waitFor } from './testing.ts';

const log = createLogger('content-sync', { level: 'silent' });
const filter = { file: () => true, dir: () => true };
const signal = new AbortController().signal;

let root: string;
let src: string;
let target: string;
let clock: number;
let busy: Promise<unknown> | undefined;
let pool: SnapshotPool;

const scan = (): Promise<Tree> => scanTree(src, { filter, maxFiles: 1_000_000 });
const make = (pruneGrace: number) =>
  new SnapshotPool({ target, pruneGrace, log, now: () => clock, busy: () => busy });

/** Builds and publishes the source as it is now, as the syncer does; returns the build. */
async function publish(materialize: 'copy' | 'link' = 'copy') {
  const tree = await scan();
  const built = await pool.build({ tree, materialize, signal });
  swapCurrent(target, built.id);
  pool.published(built.id, tree, materialize);
  return built;
}

beforeEach(() => {
  root = tempDir('pool');
  src = join(root, 'src');
  target = join(root, 'www');
  mkdirSync(join(target, '.snapshots'), { recursive: true });
  clock = Date.parse('2026-11-25T14:55:01.123Z');
  busy = undefined;
});
afterEach(async () => {
  await pool?.stop();
  removeDir(root);
});

describe('SnapshotPool', () => {
  it('names snapshots by time and sequence, never reusing a name on disk', async () => {
    putFile(src, 'a.txt', 'a');
    mkdirSync(join(target, '.snapshots', '20261125-145501-123-0001'));
    pool = make(60_000);
    const built = await publish();
    expect(built.id).toBe('20261125-145501-123-0002');
    expect(pool.current).toBe(built.id);
  });

  it('reads the current snapshot and removes unfinished builds at prepare()', async () => {
    mkdirSync(join(target, '.snapshots', '.tmp-20261125-145501-123-0009', 'x'), { recursive: true });
    mkdirSync(join(target, '.snapshots', '20261125-145501-123-0008'));
    symlinkSync('.snapshots/20261125-145501-123-0008', join(target, 'current'));
    pool = make(60_000);
    expect(await pool.prepare()).toEqual(['.tmp-20261125-145501-123-0009']);
    expect(pool.current).toBe('20261125-145501-123-0008');
    expect(readdirSync(join(target, '.snapshots'))).toEqual(['20261125-145501-123-0008']);
  });

  it('recycles the replaced snapshot once its grace has passed, not before', async () => {
    fillTree(src, 2, 50);
    pool = make(1000);
    await publish();
    putFile(src, 'd0/f1.txt', 'v2');
    const second = await publish();
    expect(second.recycled).toBe(false); // nothing expired yet: a full build, one link per file
    expect(second.linked).toBe(99);
    putFile(src, 'd0/f2.txt', 'v3');
    clock += 999;
    // The snapshot replaced 999 ms ago is still within its grace: a full build, and the second
    // snapshot (just replaced) is the one kept to recycle now.
    expect((await publish()).recycled).toBe(false);
    clock += 1000;
    putFile(src, 'd1/f3.txt', 'v4');
    const fourth = await publish();
    // Updated in place: d0/f2 (changed since the second) linked from the live snapshot, d1/f3 copied.
    expect(fourth).toMatchObject({ recycled: true, linked: 1, copied: 1, kept: 98 });
    expect(existsSync(second.dir)).toBe(false); // taken over under the new id
    expect(readTree(join(target, 'current'))).toEqual(readTree(src));
  });

  it('builds a spare while idle, and the next change is applied to it in place', async () => {
    fillTree(src, 2, 50);
    pool = make(60_000);
    await publish();
    pool.prepareSpare();
    expect(pool.spare).toBeDefined();
    await pool.spare;
    const spareId = snapshotIds(target).find((id) => id !== pool.current)!;
    putFile(src, 'd1/f9.txt', 'changed');
    const next = await publish();
    expect(next).toMatchObject({ recycled: true, kept: 99, copied: 1 });
    expect(snapshotIds(target)).not.toContain(spareId); // taken over under the new id
    expect(readTree(join(target, 'current'))['d1/f9.txt']).toBe('changed');
  });

  it('builds no spare during a sync or when one is already kept', async () => {
    putFile(src, 'a.txt', 'a');
    pool = make(60_000);
    await publish();
    busy = new Promise(() => {});
    pool.prepareSpare();
    expect(pool.spare).toBeUndefined();
    busy = undefined;
    putFile(src, 'a.txt', 'b');
    await publish(); // keeps the snapshot it replaced for recycling
    pool.prepareSpare();
    expect(pool.spare).toBeUndefined();
  });

  it('prunes expired snapshots but the current and the recyclable one, and others’ entries', async () => {
    putFile(join(target, '.snapshots'), 'backup-2026', 'not ours');
    pool = make(100);
    const ids: string[] = [];
    for (let v = 0; v < 4; v++) {
      putFile(src, 'index.html', `v${v}`);
      ids.push((await publish()).id);
      clock += 10;
    }
    clock += 1000;
    await pool.prune();
    expect(snapshotIds(target)).toEqual(['backup-2026', ids[2], ids[3]].sort());
  });

  it('never prunes during a sync: it waits for the sync to end', async () => {
    pool = make(0); // no grace: every publish prunes what it replaced
    let done = () => {};
    busy = new Promise<void>((r) => {
      done = r;
    });
    for (let v = 0; v < 3; v++) {
      putFile(src, 'index.html', `v${v}`);
      await publish('link'); // an archive's staging tree: nothing kept to recycle
    }
    await pool.prune();
    expect(snapshotIds(target)).toHaveLength(3);
    busy = undefined;
    done();
    await waitFor('the deferred prune', () => snapshotIds(target).length === 1);
    expect(snapshotIds(target)).toEqual([pool.current]);
  });

  it('stop() cuts a spare short and leaves no unfinished build behind', async () => {
    fillTree(src, 1, 1001); // more than the 1,000 files a build does between two looks at its signal
    pool = make(60_000);
    const built = await publish();
    pool.prepareSpare();
    await pool.stop();
    expect(readdirSync(join(target, '.snapshots')).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    expect(statSync(built.dir).isDirectory()).toBe(true);
    pool.prepareSpare();
    expect(pool.spare).toBeUndefined();
  });
});
