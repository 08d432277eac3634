// Builds one complete snapshot directory: files unchanged since the previous snapshot are
// hard-linked from it (cheap: a one-file change on a big tree copies one file), the rest copied.
// Built under .snapshots/.tmp-<id> and renamed into place only when whole.
import { copyFileSync, linkSync, mkdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { copyFile, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { mtimeOf, sameFile, sourceOf, type Tree, unchangedSince } from './scan.ts';

export interface Previous {
  /** The previous snapshot's directory. */
  readonly dir: string;
  /** The scan it was built from. */
  readonly tree: Tree;
}

export interface BuildOptions {
  snapshotsDir: string;
  id: string;
  tree: Tree;
  previous?: Previous | undefined;
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

export async function buildSnapshot(opts: BuildOptions): Promise<Built> {
  const tmp = join(opts.snapshotsDir, `${TMP_PREFIX}${opts.id}`);
  const final = join(opts.snapshotsDir, opts.id);
  let linked = 0;
  let copied = 0;
  let work = 0;
  const unstable: string[] = [];
  try {
    mkdirSync(tmp, { recursive: true, mode: 0o755 });
    for (const d of opts.tree.dirs) mkdirSync(join(tmp, d), { mode: 0o755 });
    const { tree, previous } = opts;
    const copies: number[] = [];
    for (let i = 0; i < tree.paths.length; i++) {
      if (++work % SLICE === 0) {
        await new Promise((r) => setImmediate(r));
        if (opts.signal?.aborted) throw opts.signal.reason;
      }
      const rel = tree.paths[i]!;
      const dst = `${tmp}/${rel}`;
      const j = previous?.tree.index.get(rel);
      if (previous && j !== undefined && !opts.forced?.has(rel) && sameFile(tree, i, previous.tree, j)) {
        try {
          linkSync(`${previous.dir}/${rel}`, dst);
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
      const src = sourceOf(tree, i);
      const dst = join(tmp, tree.paths[i]!);
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
    copied = copies.length;
    if (unstable.length)
      throw new UnstableError(
        `source changed while being copied (${unstable.slice(0, 3).join(', ')}${unstable.length > 3 ? '…' : ''})`,
      );
    if (opts.signal?.aborted) throw opts.signal.reason;
    renameSync(tmp, final);
    return { dir: final, linked, copied };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
