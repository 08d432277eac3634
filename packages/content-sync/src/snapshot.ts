// Builds one complete snapshot directory: files unchanged since the previous snapshot are
// hard-linked from it (cheap: a one-file change on a big tree copies one file), the rest copied.
// Built under .snapshots/.tmp-<id> and renamed into place only when whole.
import { copyFileSync, linkSync, mkdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { type FileEntry, sameFile, type Tree } from './scan.ts';

export interface Previous {
  readonly dir: string;
  readonly files: ReadonlyMap<string, FileEntry>;
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
    for (const [rel, entry] of opts.tree.files) {
      if (++work % SLICE === 0) {
        await new Promise((r) => setImmediate(r));
        if (opts.signal?.aborted) throw opts.signal.reason;
      }
      const dst = join(tmp, rel);
      const prev = opts.previous?.files.get(rel);
      if (opts.previous && prev && !opts.forced?.has(rel) && sameFile(prev, entry)) {
        try {
          linkSync(join(opts.previous.dir, rel), dst);
          linked++;
          continue;
        } catch {
          // The previous snapshot lost the file, or another file system: copy instead.
        }
      }
      if (opts.materialize === 'link') {
        try {
          linkSync(entry.abs, dst);
          copied++;
          continue;
        } catch {
          // Staging on another file system: copy.
        }
      }
      copyFileSync(entry.abs, dst);
      utimesSync(dst, new Date(entry.mtimeMs), new Date(entry.mtimeMs));
      copied++;
      if (opts.materialize === 'copy') {
        const after = statSync(entry.abs, { throwIfNoEntry: false });
        if (
          !after ||
          after.size !== entry.size ||
          after.mtimeMs !== entry.mtimeMs ||
          after.ctimeMs !== entry.ctimeMs
        )
          unstable.push(rel);
      }
    }
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
