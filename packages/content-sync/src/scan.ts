// Walks a source directory into an index: every published file with the stat that tells a change.
// Synchronous system calls in slices (yielding between them): faster than one promise per file,
// and bounded memory however big the tree (unbounded parallel stats cost hundreds of MiB of RSS).
import { type Dirent, lstatSync, readdirSync, realpathSync, type Stats, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Filter } from './filter.ts';

export interface FileEntry {
  /** Where the bytes are read from (a symlink in the source is resolved to its target). */
  readonly abs: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly ino: number;
  readonly mode: number;
}

export interface Tree {
  /** The source's real path (symlinks resolved). */
  readonly root: string;
  /** Relative path (`a/b.html`) → entry, in walk order. */
  readonly files: Map<string, FileEntry>;
  /** Relative directories, parents before children. */
  readonly dirs: string[];
  /** Real directories walked (not through symlinks): what the watcher watches. */
  readonly watchDirs: Map<string, WatchDir>;
  readonly bytes: number;
  /** Symlinks refused because they point outside the source, or dangle. */
  readonly refused: string[];
}

export interface WatchDir {
  readonly ino: number;
  readonly entries: number;
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

export function entryOf(abs: string, st: Stats): FileEntry {
  return { abs, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, mode: st.mode };
}

export function sameFile(a: FileEntry, b: FileEntry): boolean {
  return (
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.ctimeMs === b.ctimeMs &&
    a.ino === b.ino &&
    a.abs === b.abs
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
  const files = new Map<string, FileEntry>();
  const dirs: string[] = [];
  const watchDirs = new Map<string, WatchDir>();
  const refused: string[] = [];
  const seenReal = new Set<string>([rootReal]);
  let bytes = 0;
  let work = 0;
  // [path as walked, relative path, walked through a symlink?]
  const stack: Array<[string, string, boolean]> = [[rootReal, '', false]];
  const inside = (p: string) => p === rootReal || p.startsWith(rootReal === '/' ? '/' : `${rootReal}/`);

  const addFile = (rel: string, abs: string, st: Stats) => {
    if (files.size >= opts.maxFiles)
      throw new SourceError(`source has more than ${opts.maxFiles} files (--max-files / SYNC_MAX_FILES)`);
    files.set(rel, entryOf(abs, st));
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
      const abs = join(dir, e.name);
      if (e.isDirectory()) {
        if (!opts.filter.dir(rel)) continue;
        dirs.push(rel);
        stack.push([abs, rel, viaLink]);
      } else if (e.isFile()) {
        if (!opts.filter.file(rel)) continue;
        try {
          addFile(rel, abs, lstatSync(abs));
        } catch (err) {
          if (err instanceof SourceError) throw err;
          // Deleted between readdir and lstat: it is simply not in this version.
        }
      } else if (e.isSymbolicLink()) {
        const base = e.name;
        if (!opts.filter.dir(rel) && !opts.filter.file(rel) && base.startsWith('.')) continue;
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
        } else if (st.isFile() && opts.filter.file(rel)) addFile(rel, real, st);
      }
      // Sockets, FIFOs and devices are never content.
    }
  }
  dirs.sort();
  return { root: rootReal, files, dirs, watchDirs, bytes, refused };
}
