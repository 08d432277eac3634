import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFilter } from './filter.ts';
import { SourceError, SourceMissingError, scanTree, sizeOf, treeChanged } from './scan.ts';
import { putFile, removeDir, tempDir } from './testing.ts';

const filter = createFilter({ include: [], exclude: [], dotfiles: false });
let src: string;
const put = (rel: string, body: string) => putFile(src, rel, body);
const files = (t: Awaited<ReturnType<typeof scanTree>>) =>
  Object.fromEntries(t.paths.map((p, i) => [p, sizeOf(t, i)]));

beforeEach(() => {
  src = join(tempDir('scan'), 'src');
  mkdirSync(src);
});
afterEach(() => removeDir(join(src, '..')));

describe('scan', () => {
  it('indexes files and directories, and the real directories to watch', async () => {
    put('a.txt', 'aa');
    put('d/e/f.txt', 'fff');
    const t = await scanTree(src, { filter, maxFiles: 100 });
    expect(files(t)).toEqual({ 'a.txt': 2, 'd/e/f.txt': 3 });
    expect(t.dirs).toEqual(['d', 'd/e']);
    expect([...t.watchDirs.keys()].sort()).toEqual([src, join(src, 'd'), join(src, 'd/e')]);
    expect(t.bytes).toBe(5);
  });

  it('reads only dirty or moved directories when given the previous scan', async () => {
    put('a/1.txt', '1');
    put('b/2.txt', '2');
    put('c/3.txt', '3');
    const first = await scanTree(src, { filter, maxFiles: 100 });
    expect(first.read).toBe(4);
    await new Promise((r) => setTimeout(r, 25)); // past the file system's timestamp granularity
    put('a/1.txt', '111'); // reported by the watcher
    put('b/new.txt', 'n'); // not reported, but b's mtime moves
    const second = await scanTree(src, {
      filter,
      maxFiles: 100,
      previous: first,
      dirty: new Set([join(src, 'a')]),
    });
    expect(files(second)).toEqual({ 'a/1.txt': 3, 'b/2.txt': 1, 'b/new.txt': 1, 'c/3.txt': 1 });
    expect(second.read).toBe(2); // a (dirty) and b (mtime); the root and c reused
    rmSync(join(src, 'c'), { recursive: true });
    const third = await scanTree(src, { filter, maxFiles: 100, previous: second, dirty: new Set([src]) });
    expect(files(third)).toEqual({ 'a/1.txt': 3, 'b/2.txt': 1, 'b/new.txt': 1 });
  });

  it('never reuses a directory holding symlinks (their targets change elsewhere)', async () => {
    put('data/v.txt', 'v1');
    symlinkSync('data/v.txt', join(src, 'link.txt'));
    const first = await scanTree(src, { filter, maxFiles: 100 });
    put('data/v.txt', 'v22');
    const second = await scanTree(src, {
      filter,
      maxFiles: 100,
      previous: first,
      dirty: new Set([join(src, 'data')]),
    });
    expect(files(second)).toEqual({ 'data/v.txt': 3, 'link.txt': 3 });
  });

  it('refuses more files than the limit, and a missing source, with a SourceError', async () => {
    for (let i = 0; i < 5; i++) put(`f${i}`, 'x');
    await expect(scanTree(src, { filter, maxFiles: 4 })).rejects.toThrow(/more than 4 files/);
    await expect(scanTree(join(src, 'nope'), { filter, maxFiles: 4 })).rejects.toBeInstanceOf(SourceError);
  });

  it('tells a missing source by its type, not its words', async () => {
    // A path that says "missing" but is a file: a SourceError of another kind.
    put('missing', 'a file, not a directory');
    const notDir = scanTree(join(src, 'missing'), { filter, maxFiles: 4 });
    await expect(notDir).rejects.toThrow(/is not a directory/);
    await expect(notDir).rejects.not.toBeInstanceOf(SourceMissingError);
    await expect(scanTree(join(src, 'gone'), { filter, maxFiles: 4 })).rejects.toBeInstanceOf(
      SourceMissingError,
    );
  });
});

describe('treeChanged', () => {
  it('sees a changed file, an added or removed file or directory, and a forced path; nothing else', async () => {
    put('a.txt', 'a');
    put('d/b.txt', 'b');
    const scan = () => scanTree(src, { filter, maxFiles: 100 });
    const base = await scan();
    expect(treeChanged(base, await scan(), new Set())).toBe(false);
    expect(treeChanged(base, await scan(), new Set(['a.txt']))).toBe(true);
    expect(treeChanged(base, await scan(), new Set(['gone.txt']))).toBe(false);
    mkdirSync(join(src, 'empty'));
    expect(treeChanged(base, await scan(), new Set())).toBe(true);
    rmSync(join(src, 'empty'), { recursive: true });
    put('d/b.txt', 'bb');
    expect(treeChanged(base, await scan(), new Set())).toBe(true);
    put('d/c.txt', 'c');
    const more = await scan();
    expect(treeChanged(more, await scan(), new Set())).toBe(false);
    rmSync(join(src, 'd/c.txt'));
    expect(treeChanged(more, await scan(), new Set())).toBe(true);
  });
});
