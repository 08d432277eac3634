import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirWatcher } from './source-dir.ts';
import { removeDir, tempDir, waitFor } from './testing.ts';

describe('DirWatcher', () => {
  let root: string;
  let watcher: DirWatcher;
  const changed: string[] = [];
  const watched: string[][] = [];
  const dirs = (...paths: string[]) => new Map(paths.map((p) => [p, { ino: statSync(p).ino, entries: 1 }]));

  beforeEach(() => {
    root = tempDir('watch');
    changed.length = 0;
    watched.length = 0;
    watcher = new DirWatcher({
      onChange: (paths) => changed.push(...paths),
      onWatched: (d) => watched.push(d),
      onError: (err) => {
        throw err;
      },
    });
  });
  afterEach(async () => {
    await watcher.close();
    removeDir(root);
  });

  it('reports the directories each reconcile starts watching, so writes made before their watch are re-read', async () => {
    await watcher.reconcile(dirs(root));
    expect(watched).toEqual([[root]]); // the first one too: the first publish came between scan and watch
    const late = join(root, 'late');
    mkdirSync(late);
    writeFileSync(join(late, 'early-write.txt'), 'written before the watch existed');
    await watcher.reconcile(dirs(root, late));
    expect(watched).toEqual([[root], [late]]);
    expect(watcher.count).toBe(2);
    writeFileSync(join(late, 'after.txt'), 'seen by the watch');
    await waitFor('the write under the new watch', () => changed.includes(join(late, 'after.txt')));
  });

  it('reports nothing when a reconcile adds no directory', async () => {
    await watcher.reconcile(dirs(root));
    await watcher.reconcile(dirs(root));
    expect(watched).toEqual([[root]]);
  });
});
