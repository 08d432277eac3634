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

/** What a scan remembers of one real directory, so the next scan can reuse it when it is clean. */
interface DirRecord {
  readonly rel: string;
  readonly ino: number;
  readonly mtimeMs: number;
  readonly entries: number;
  /** Its files are paths[start..end). */
  readonly start: number;
  readonly end: number;
  readonly subdirs: ReadonlyArray<readonly [string, string, boolean]>;
}

export interface Tree {
  /** The source's real path (symlinks resolved). */
  readonly root: string;
  /** Relative file paths (`a/b.html`), in walk order. */
  readonly paths: string[];
  /** Relative path → position in `paths`. */
  readonly index: Map<string, number>;
  /** FIELDS numbers per file, off the JS heap (a typed array), so rescans churn little garbage. */
  readonly stats: Float64Array;
  /** Files whose bytes live elsewhere than `root/path` (reached through a symlink). */
  readonly targets: Map<number, string>;
  /** Relative directories, parents before children. */
  readonly dirs: string[];
  /** Real directories walked (not through symlinks): what the watcher watches. */
  readonly watchDirs: Map<string, WatchDir>;
  readonly bytes: number;
  /** Symlinks refused because they point outside the source, or dangle. */
  readonly refused: string[];
  /** Reusable directories (real path → record): not reached through a symlink, holding none. */
  readonly records: Map<string, DirRecord>;
  /** Directories read from disk by this scan (the rest were reused from the previous one). */
  readonly read: number;
  /**
   * For files whose bytes are not on disk (a git blob): creates file `i` at `dst`, a new inode,
   * where a copy from `sourceOf` would be made.
   */
  readonly write?: (i: number, dst: string) => Promise<void>;
}

/** The source cannot be published as it is (too many files, changed during the scan…). */
export class SourceError extends Error {
  override name = 'SourceError';
}

/** The source directory is not there (an unmounted volume) or cannot be read: its watches are gone too. */
export class SourceMissingError extends SourceError {
  override name = 'SourceMissingError';
}

export interface ScanOptions {
  filter: Filter;
  maxFiles: number;
  signal?: AbortSignal;
  /**
   * Incremental scan: directories of `previous` that are not in `dirty` (absolute real paths, from
   * the watcher) and whose inode and mtime did not move are reused without reading them.
   */
  previous?: Tree | undefined;
  dirty?: ReadonlySet<string>;
}

const SLICE = 2000;

/** Where file `i` is read from. */
export function sourceOf(tree: Tree, i: number): string {
  return tree.targets.get(i) ?? `${tree.root}/${tree.paths[i]!}`;
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

/**
 * Whether `tree` would publish anything `prev` did not: a path the watcher saw change (its stat
 * may look the same), another list of files, a changed file, another set of directories.
 */
export function treeChanged(prev: Tree, tree: Tree, forced: ReadonlySet<string>): boolean {
  for (const rel of forced) if (tree.index.has(rel)) return true;
  if (prev.paths.length !== tree.paths.length || prev.dirs.length !== tree.dirs.length) return true;
  for (let i = 0; i < tree.paths.length; i++) {
    const j = prev.index.get(tree.paths[i]!);
    if (j === undefined || !sameFile(tree, i, prev, j)) return true;
  }
  for (let i = 0; i < tree.dirs.length; i++) if (tree.dirs[i] !== prev.dirs[i]) return true;
  return false;
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
    throw new SourceMissingError(
      `source directory ${root} is missing or unreadable: ${(err as Error).message}`,
    );
  }
  const paths: string[] = [];
  let stats = new Float64Array(Math.max(1024, (opts.previous?.paths.length ?? 0) + 256) * FIELDS);
  const push = (a: number, b: number, c: number, d: number) => {
    const x = paths.length * FIELDS;
    if (x + FIELDS > stats.length) {
      const bigger = new Float64Array(stats.length * 2);
      bigger.set(stats);
      stats = bigger;
    }
    stats[x] = a;
    stats[x + 1] = b;
    stats[x + 2] = c;
    stats[x + 3] = d;
  };
  const targets = new Map<number, string>();
  const dirs: string[] = [];
  const watchDirs = new Map<string, WatchDir>();
  const refused: string[] = [];
  const records = new Map<string, DirRecord>();
  let read = 0;
  const prev = opts.previous?.root === rootReal ? opts.previous : undefined;
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
    push(st.size, st.mtimeMs, st.ctimeMs, st.ino);
    paths.push(rel);
    if (elsewhere) targets.set(i, abs);
    bytes += st.size;
  };

  /** Takes a clean directory over from the previous scan; false when it must be read. */
  const reuse = (dir: string, relDir: string): boolean => {
    const rec = prev?.records.get(dir);
    if (!prev || !rec || rec.rel !== relDir || opts.dirty?.has(dir)) return false;
    const st = statSync(dir, { throwIfNoEntry: false });
    if (!st || st.ino !== rec.ino || st.mtimeMs !== rec.mtimeMs) return false;
    const start = paths.length;
    for (let j = rec.start; j < rec.end; j++) {
      if (paths.length >= opts.maxFiles)
        throw new SourceError(`source has more than ${opts.maxFiles} files (--max-files / SYNC_MAX_FILES)`);
      const rel = prev.paths[j]!;
      const x = j * FIELDS;
      push(prev.stats[x]!, prev.stats[x + 1]!, prev.stats[x + 2]!, prev.stats[x + 3]!);
      paths.push(rel);
      bytes += prev.stats[x]!;
    }
    records.set(dir, { ...rec, start, end: paths.length });
    watchDirs.set(dir, { ino: rec.ino, entries: rec.entries });
    for (const sub of rec.subdirs) {
      dirs.push(sub[1]);
      stack.push([sub[0], sub[1], sub[2]]);
    }
    return true;
  };

  while (stack.length) {
    const [dir, relDir, viaLink] = stack.pop()!;
    if (!viaLink && reuse(dir, relDir)) continue;
    read++;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      if (relDir === '')
        throw new SourceMissingError(
          `source directory ${root} is missing or unreadable: ${(err as Error).message}`,
        );
      // A directory removed while we walk: the watcher reports it and the next sync sees the new state.
      throw new SourceError(
        `source changed during the scan (${dir}: ${(err as NodeJS.ErrnoException).code})`,
      );
    }
    const dirStat = viaLink ? undefined : statSync(dir);
    if (dirStat) watchDirs.set(dir, { ino: dirStat.ino, entries: entries.length });
    const start = paths.length;
    const subdirs: Array<[string, string, boolean]> = [];
    let links = false;
    for (const e of entries) {
      if (++work % SLICE === 0) {
        await new Promise((r) => setImmediate(r));
        if (opts.signal?.aborted) throw opts.signal.reason;
      }
      const rel = relDir ? `${relDir}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!opts.filter.dir(rel)) continue;
        dirs.push(rel);
        subdirs.push([join(dir, e.name), rel, viaLink]);
      } else if (e.isFile()) {
        if (!opts.filter.file(rel)) continue;
        const abs = `${dir}/${e.name}`;
        const st = lstatSync(abs, { throwIfNoEntry: false });
        // Deleted between readdir and lstat: it is simply not in this version.
        if (st) addFile(rel, abs, st, viaLink);
      } else if (e.isSymbolicLink()) {
        links = true; // a link's target can change without an event here: never reuse this directory
        if (e.name.startsWith('.') && !opts.filter.dir(rel)) continue; // ConfigMap's ..data and friends
        const abs = `${dir}/${e.name}`;
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
          subdirs.push([real, rel, true]);
        } else if (st.isFile() && opts.filter.file(rel)) addFile(rel, real, st, true);
      }
      // Sockets, FIFOs and devices are never content.
    }
    for (const sub of subdirs) stack.push(sub);
    if (dirStat && !links)
      records.set(dir, {
        rel: relDir,
        ino: dirStat.ino,
        mtimeMs: dirStat.mtimeMs,
        entries: entries.length,
        start,
        end: paths.length,
        subdirs,
      });
  }
  dirs.sort();
  // The path → position index: shared with the previous scan when the file list did not change
  // (the usual edit), so a rescan of a big tree does not rebuild a 100k-entry map.
  let index: Map<string, number>;
  let list = paths;
  if (prev && prev.paths.length === paths.length && paths.every((p, i) => p === prev.paths[i])) {
    index = prev.index;
    list = prev.paths;
  } else {
    index = new Map();
    for (let i = 0; i < paths.length; i++) index.set(paths[i]!, i);
  }
  return {
    root: rootReal,
    paths: list,
    index,
    stats: stats.subarray(0, paths.length * FIELDS),
    targets,
    dirs,
    watchDirs,
    bytes,
    refused,
    records,
    read,
  };
}
