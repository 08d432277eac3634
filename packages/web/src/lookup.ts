// Maps a safe path to files inside one resolved root (a snapshot): directory redirect, index file,
// and the .br/.gz siblings; refuses anything whose real path (symlinks followed) leaves the root.
import type { Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';

/** A file found for a request: the path asked for, where it really is, and its stat. */
export interface Found {
  /** Path from the root, e.g. `/about/index.html` or `/app.js.br`. */
  readonly rel: string;
  readonly path: string;
  readonly realPath: string;
  readonly stat: Stats;
}

export type Lookup =
  | { kind: 'file'; identity: Found; br?: Found; gzip?: Found; rel: string }
  | { kind: 'redirect'; rel: string }
  | { kind: 'missing'; status: 403 | 404; reason: string };

export interface LookupOptions {
  index: string;
  /** Look for .br/.gz siblings of this file (set by the caller from the content type). */
  siblings: (rel: string) => boolean;
}

/** Finds `rel` (already normalized by safePath) in the real root `root`. */
export async function lookup(root: string, rel: string, dir: boolean, opts: LookupOptions): Promise<Lookup> {
  const fileRel = dir ? `${rel === '/' ? '' : rel}/${opts.index}` : rel;
  const found = await find(root, fileRel);
  if ('status' in found) {
    if (found.isDir && !dir) return { kind: 'redirect', rel: `${rel}/` };
    return { kind: 'missing', status: found.status, reason: found.reason };
  }
  if (!opts.siblings(fileRel)) return { kind: 'file', identity: found, rel: fileRel };
  const [br, gzip] = await Promise.all([find(root, `${fileRel}.br`), find(root, `${fileRel}.gz`)]);
  return {
    kind: 'file',
    identity: found,
    rel: fileRel,
    ...('status' in br ? {} : { br }),
    ...('status' in gzip ? {} : { gzip }),
  };
}

type Miss = { status: 403 | 404; reason: string; isDir?: boolean };

async function find(root: string, rel: string): Promise<Found | Miss> {
  const path = root + rel;
  let st: Stats;
  try {
    st = await stat(path);
  } catch (err) {
    return missFor(err);
  }
  if (st.isDirectory()) return { status: 404, reason: 'directory', isDir: true };
  if (!st.isFile()) return { status: 404, reason: 'not a regular file' };
  let realPath: string;
  try {
    realPath = await realpath(path);
  } catch (err) {
    return missFor(err);
  }
  // Symlinks are followed, but the file they reach must be inside this snapshot.
  // Dotfiles are judged by the URL (safe-path.ts), not by where a link points: a mounted
  // ConfigMap is `index.html -> ..data/index.html`, and those links must keep working.
  if (!realPath.startsWith(`${root}/`)) return { status: 404, reason: 'symlink leaves the root' };
  return { rel, path, realPath, stat: st };
}

function missFor(err: unknown): Miss {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return { status: 403, reason: 'permission denied' };
  return { status: 404, reason: code ?? 'not found' };
}
