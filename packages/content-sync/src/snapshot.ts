// Builds one complete snapshot directory under .snapshots/.tmp-<id>, renamed into place only when
// whole. Two ways:
// - build: a new tree where files unchanged since the previous snapshot are hard-linked from it
//   and the rest copied (one link per file: O(files));
// - recycle: an expired snapshot (replaced longer ago than the grace period, so no reader is in it)
//   is taken over and only the differences are applied: O(changes) file operations, which keeps a
//   one-file change on a 100k-file tree cheap.
// Files are never modified in place: a snapshot's inode may be shared with the live snapshot.
import {
  chmodSync,
  copyFileSync,
  linkSync,
  mkdirSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  utimesSync,
} from 'node:fs';
import { chmod, copyFile, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { mtimeOf, sameFile, sourceOf, type Tree, unchangedSince } from './scan.ts';

export interface Snapshot {
  /** The snapshot's directory. */
  readonly dir: string;
  /** The scan it was built from. */
  readonly tree: Tree;
}

export interface BuildOptions {
  snapshotsDir: string;
  id: string;
  tree: Tree;
  /** The live snapshot: unchanged files are hard-linked from it. */
  previous?: Snapshot | undefined;
  /** An expired snapshot to update in place instead of building from nothing. */
  recycle?: Snapshot | undefined;
  /** Paths the watcher saw change: copied even when their stat looks the same. */
  forced?: ReadonlySet<string>;
  /** `copy` for a live source; `link` when the source is a private staging tree (an unpacked archive). */
  materialize: 'copy' | 'link';
  signal?: AbortSignal;
}

export interface Built {
  readonly dir: string;
  readonly linked: number;
  readonly copied: number;
  readonly kept: number;
  readonly removed: number;
  readonly recycled: boolean;
}

/** A source file changed while it was being copied: the caller scans again. */
export class UnstableError extends Error {
  override name = 'UnstableError';
}

const SLICE = 1000;
/** More copies than this go through a pool of POOL parallel calls (libuv's threads). */
const PARALLEL_FROM = 64;
const POOL = 8;
export const TMP_PREFIX = '.tmp-';
/**
 * setuid, setgid and sticky: never published. A copy keeps its source's mode, and a file owned by
 * this process's user (root, when run as root) with setuid in a volume another container can run
 * from is a privilege escalation; for static content they mean nothing.
 */
export const SPECIAL_MODE_BITS = 0o7000;

const tick = async (n: number, signal: AbortSignal | undefined) => {
  if (n % SLICE !== 0) return;
  await new Promise((r) => setImmediate(r));
  if (signal?.aborted) throw signal.reason;
};

export async function buildSnapshot(opts: BuildOptions): Promise<Built> {
  const tmp = join(opts.snapshotsDir, `${TMP_PREFIX}${opts.id}`);
  const final = join(opts.snapshotsDir, opts.id);
  const { tree, previous, recycle } = opts;
  const forced = opts.forced;
  let linked = 0;
  let kept = 0;
  let removed = 0;
  let work = 0;
  const unstable: string[] = [];
  try {
    if (recycle) {
      // Take the expired snapshot over (one rename: its old name is gone for good), then make it
      // equal the new tree: remove what went away, create new directories, replace changed files.
      renameSync(recycle.dir, tmp);
      const old = recycle.tree;
      for (let j = 0; j < old.paths.length; j++) {
        await tick(++work, opts.signal);
        const rel = old.paths[j]!;
        const i = tree.index.get(rel);
        if (i !== undefined && !forced?.has(rel) && sameFile(tree, i, old, j)) continue;
        try {
          unlinkSync(`${tmp}/${rel}`);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
        if (i === undefined) removed++;
      }
      const newDirs = new Set(tree.dirs);
      for (let k = old.dirs.length - 1; k >= 0; k--) {
        const d = old.dirs[k]!;
        if (!newDirs.has(d)) rmSync(`${tmp}/${d}`, { recursive: true, force: true });
      }
      const oldDirs = new Set(old.dirs);
      for (const d of tree.dirs) if (!oldDirs.has(d)) mkdirSync(`${tmp}/${d}`, { mode: 0o755 });
    } else {
      mkdirSync(tmp, { recursive: true, mode: 0o755 });
      for (const d of tree.dirs) mkdirSync(`${tmp}/${d}`, { mode: 0o755 });
    }

    const copies: number[] = [];
    for (let i = 0; i < tree.paths.length; i++) {
      await tick(++work, opts.signal);
      const rel = tree.paths[i]!;
      if (recycle) {
        const j = recycle.tree.index.get(rel);
        if (j !== undefined && !forced?.has(rel) && sameFile(tree, i, recycle.tree, j)) {
          kept++;
          continue;
        }
      }
      const j = previous?.tree.index.get(rel);
      if (previous && j !== undefined && !forced?.has(rel) && sameFile(tree, i, previous.tree, j)) {
        try {
          linkSync(`${previous.dir}/${rel}`, `${tmp}/${rel}`);
          linked++;
          continue;
        } catch {
          // The previous snapshot lost the file, or another file system: copy instead.
        }
      }
      copies.push(i);
    }

    // Copies: a few inline; many (a first publish) through a small pool of parallel system calls.
    const copyOne = async (i: number, parallel: boolean) => {
      const dst = `${tmp}/${tree.paths[i]!}`;
      if (tree.write) return tree.write(i, dst);
      const src = sourceOf(tree, i);
      if (opts.materialize === 'link') {
        try {
          linkSync(src, dst);
          return;
        } catch {
          // Staging on another file system: copy.
        }
      }
      const mtime = new Date(mtimeOf(tree, i));
      if (parallel) {
        await copyFile(src, dst);
        await utimes(dst, mtime, mtime);
      } else {
        copyFileSync(src, dst);
        utimesSync(dst, mtime, mtime);
      }
      if (opts.materialize === 'copy') {
        const after = parallel
          ? await stat(src).catch(() => undefined)
          : statSync(src, { throwIfNoEntry: false });
        if (!unchangedSince(tree, i, after)) unstable.push(tree.paths[i]!);
        // The copy got the mode `after` has (a chmod since would have moved its ctime: unstable).
        else if (after!.mode & SPECIAL_MODE_BITS) {
          const mode = after!.mode & 0o777;
          if (parallel) await chmod(dst, mode);
          else chmodSync(dst, mode);
        }
      }
    };
    if (copies.length <= PARALLEL_FROM) for (const i of copies) await copyOne(i, false);
    else {
      let next = 0;
      const worker = async () => {
        while (next < copies.length) {
          if (opts.signal?.aborted) throw opts.signal.reason;
          await copyOne(copies[next++]!, true);
        }
      };
      await Promise.all(Array.from({ length: POOL }, worker));
    }
    if (unstable.length)
      throw new UnstableError(
        `source changed while being copied (${unstable.slice(0, 3).join(', ')}${unstable.length > 3 ? '…' : ''})`,
      );
    if (opts.signal?.aborted) throw opts.signal.reason;
    renameSync(tmp, final);
    return { dir: final, linked, copied: copies.length, kept, removed, recycled: recycle !== undefined };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
