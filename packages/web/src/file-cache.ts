// Hot files in memory, keyed by URL path. A hit is served only after one stat of the file through
// WEB_ROOT (`/srv/www/current/a.css`, following `current` as it is now) proves it is the very
// version that was read: same device, inode, size, mtime and ctime. A swap to a snapshot where the
// file differs shows another inode; an edit changes mtime/ctime; a deletion fails the stat. The
// same inode in a new snapshot (content-sync hard-links unchanged files) is the same bytes.
import { type Stats, statSync } from 'node:fs';

/** One on-disk version of a file: what its bytes and headers were derived from. */
export interface FileVersion {
  /** The path through WEB_ROOT that a hit is validated with (symlinks inside the root included). */
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

export function versionOf(path: string, st: Stats): FileVersion {
  return { path, dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

export function sameVersion(v: FileVersion, st: Stats | undefined): boolean {
  return (
    st !== undefined &&
    st.ino === v.ino &&
    st.mtimeMs === v.mtimeMs &&
    st.ctimeMs === v.ctimeMs &&
    st.size === v.size &&
    st.dev === v.dev
  );
}

/** True when the path still names exactly this version (one stat, following symlinks). */
export function stillCurrent(v: FileVersion): boolean {
  let st: Stats | undefined;
  try {
    st = statSync(v.path, { throwIfNoEntry: false });
  } catch {
    return false; // ENOTDIR, EACCES…: let the slow path decide
  }
  return sameVersion(v, st);
}

export class FileCache<T extends { readonly bytes: number }> {
  readonly #entries = new Map<string, T & { hot?: boolean }>();
  readonly #budget: number;
  #used = 0;

  constructor(budgetBytes: number) {
    this.#budget = budgetBytes;
  }

  get enabled(): boolean {
    return this.#budget > 0;
  }

  get size(): number {
    return this.#entries.size;
  }

  get usedBytes(): number {
    return this.#used;
  }

  get(key: string): T | undefined {
    const e = this.#entries.get(key);
    if (e) e.hot = true;
    return e;
  }

  set(key: string, value: T): void {
    if (value.bytes > this.#budget) return;
    this.delete(key);
    this.#entries.set(key, value);
    this.#used += value.bytes;
    this.#evict();
  }

  delete(key: string): void {
    const old = this.#entries.get(key);
    if (old) {
      this.#entries.delete(key);
      this.#used -= old.bytes;
    }
  }

  /** Second-chance eviction in insertion order: recently hit entries move to the back once. */
  #evict(): void {
    let spins = this.#entries.size * 2;
    while (this.#used > this.#budget && spins-- > 0) {
      const first = this.#entries.entries().next();
      if (first.done) return;
      const [key, e] = first.value;
      this.#entries.delete(key);
      if (e.hot) {
        e.hot = false;
        this.#entries.set(key, e);
      } else this.#used -= e.bytes;
    }
  }
}
