// Walks a source directory into an index: every published file with the stat fields that tell a
// change (size, mtime, ctime, inode). Synchronous system calls in slices (yielding between them):
// faster than one promise per file, and bounded memory however big the tree (unbounded parallel
// stats cost hundreds of MiB of RSS). The index is columnar (arrays of numbers, not an object per
// file) so a 100k-file tree stays around 10 MiB.
import { type Dirent, lstatSync, readdirSync, realpathSync, type Stats, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Filter } from './filter.ts';

/** Numbers kept per file, in `Tree.stats` at `i * FIELDS`. */
const FIELDS = 4; // size, mtimeMs, ctimeMs, ino

export interface WatchDir {
  readonly ino: number;
  readonly entries: number;
}

export interface Tree {
  /** The source's real path (symlinks resolved). */
  readonly root: string;
  /** Relative file paths (`a/b.html`), in walk order. */
  readonly paths: string[];
  /** Relative path → position in `paths`. */
  readonly index: Map<string, number>;
  readonly stats: number[];
  /** Files whose bytes live elsewhere than `root/path` (reached through a symlink). */
  readonly targets: Map<number, string>;
  /** Relative directories, parents before children. */
  readonly dirs: string[];
  /** Real directories walked (not through symlinks): what the watcher watches. */
  readonly watchDirs: Map<string, WatchDir>;
  readonly bytes: number;
  /** Symlinks refused because they point outside the source, or dangle. */
  readonly refused: string[];
}

export class SourceError extends Error {
  override name = 'SourceError';
}

export interface ScanOptions {
  filter: Filter;
  maxFiles: number;
  signal?: AbortSignal;
}

const SLICE = 2000;

/** Where file `i` is read from. */
export function sourceOf(tree: Tree, i: number): string {
  return tree.targets.get(i) ?? join(tree.root, tree.paths[i]!);
}

export function sizeOf(tree: Tree, i: number): number {
  return tree.stats[i * FIELDS]!;
}

export function mtimeOf(tree: Tree, i: number): number {
  return tree.stats[i * FIELDS + 1]!;
}

/** Same file, unchanged: file `i` of `a` and file `j` of `b`. */
export function sameFile(a: Tree, i: number, b: Tree, j: number): boolean {
  const x = i * FIELDS;
  const y = j * FIELDS;
  for (let k = 0; k < FIELDS; k++) if (a.stats[x + k] !== b.stats[y + k]) return false;
  return a.targets.get(i) === b.targets.get(j) && (a.targets.has(i) || a.root === b.root);
}

/** Does the file now (a fresh stat) still look as it did in the scan? */
export function unchangedSince(tree: Tree, i: number, st: Stats | undefined): boolean {
  const x = i * FIELDS;
  return (
    st !== undefined &&
    st.size === tree.stats[x] &&
    st.mtimeMs === tree.stats[x + 1] &&
    st.ctimeMs === tree.stats[x + 2]
  );
}

export async function scanTree(root: string, opts: ScanOptions): Promise<Tree> {
  let rootReal: string;
  try {
    rootReal = realpathSync(root);
    if (!statSync(rootReal).isDirectory()) throw new SourceError(`source ${root} is not a directory`);
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw new SourceError(`source directory ${root} is missing or unreadable: ${(err as Error).message}`);
  }
  const paths: string[] = [];
  const index = new Map<string, number>();
  const stats: number[] = [];
  const targets = new Map<number, string>();
  const dirs: string[] = [];
  const watchDirs = new Map<string, WatchDir>();
  const refused: string[] = [];
  const seenReal = new Set<string>([rootReal]);
  let bytes = 0;
  let work = 0;
  // [path as walked, relative path, walked through a symlink?]
  const stack: Array<[string, string, boolean]> = [[rootReal, '', false]];
  const inside = (p: string) => p === rootReal || p.startsWith(rootReal === '/' ? '/' : `${rootReal}/`);

  const addFile = (rel: string, abs: string, st: Stats, elsewhere: boolean) => {
    if (paths.length >= opts.maxFiles)
      throw new SourceError(`source has more than ${opts.maxFiles} files (--max-files / SYNC_MAX_FILES)`);
    const i = paths.length;
    paths.push(rel);
    index.set(rel, i);
    stats.push(st.size, st.mtimeMs, st.ctimeMs, st.ino);
    if (elsewhere) targets.set(i, abs);
    bytes += st.size;
  };

  while (stack.length) {
    const [dir, relDir, viaLink] = stack.pop()!;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      if (relDir === '')
        throw new SourceError(`source directory ${root} is missing or unreadable: ${(err as Error).message}`);
      // A directory removed while we walk: the watcher reports it and the next sync sees the new state.
      throw new SourceError(
        `source changed during the scan (${dir}: ${(err as NodeJS.ErrnoException).code})`,
      );
    }
    if (!viaLink) watchDirs.set(dir, { ino: statSync(dir).ino, entries: entries.length });
    for (const e of entries) {
      if (++work % SLICE === 0) {
        await new Promise((r) => setImmediate(r));
        if (opts.signal?.aborted) throw opts.signal.reason;
      }
      const rel = relDir ? `${relDir}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!opts.filter.dir(rel)) continue;
        dirs.push(rel);
        stack.push([join(dir, e.name), rel, viaLink]);
      } else if (e.isFile()) {
        if (!opts.filter.file(rel)) continue;
        const abs = join(dir, e.name);
        const st = lstatSync(abs, { throwIfNoEntry: false });
        // Deleted between readdir and lstat: it is simply not in this version.
        if (st) addFile(rel, abs, st, viaLink);
      } else if (e.isSymbolicLink()) {
        if (e.name.startsWith('.') && !opts.filter.dir(rel)) continue; // ConfigMap's ..data and friends
        const abs = join(dir, e.name);
        let real: string;
        let st: Stats;
        try {
          real = realpathSync(abs);
          st = statSync(real);
        } catch {
          refused.push(`${rel} (dangling symlink)`);
          continue;
        }
        if (!inside(real)) {
          refused.push(`${rel} -> ${real} (points outside the source)`);
          continue;
        }
        if (st.isDirectory()) {
          if (!opts.filter.dir(rel) || seenReal.has(real)) continue;
          seenReal.add(real);
          dirs.push(rel);
          stack.push([real, rel, true]);
        } else if (st.isFile() && opts.filter.file(rel)) addFile(rel, real, st, true);
      }
      // Sockets, FIFOs and devices are never content.
    }
  }
  dirs.sort();
  return { root: rootReal, paths, index, stats, targets, dirs, watchDirs, bytes, refused };
}
