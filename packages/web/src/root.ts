// Resolves WEB_ROOT for every request: `current` may be swapped to another snapshot at any moment,
// so each request works from the one real path it resolved, and never mixes two snapshots.
//
// A full realpath costs one lstat per path component (~10% of a cached hit's CPU, see README), so
// the resolver keeps the last answer and re-checks it with a single lstat of WEB_ROOT itself:
// swapping the symlink (rename over it) always makes a new inode, so the next request re-resolves.
// The directories above WEB_ROOT (mount points in a pod) are re-resolved at least every `maxAgeMs`.
import { accessSync, constants, lstatSync, realpathSync, type Stats, statSync } from 'node:fs';
import type { Probe } from '@multipod/service';

export class RootResolver {
  readonly #root: string;
  readonly #maxAgeMs: number;
  #real: string | null = null;
  #link: Stats | undefined;
  #at = 0;

  constructor(root: string, opts: { maxAgeMs?: number } = {}) {
    this.#root = root;
    this.#maxAgeMs = opts.maxAgeMs ?? 1000;
  }

  /** The real path of the root right now, or null when it does not resolve (missing, dangling link). */
  resolve(): string | null {
    let link: Stats | undefined;
    try {
      link = lstatSync(this.#root, { throwIfNoEntry: false });
    } catch {
      link = undefined;
    }
    if (link === undefined) {
      this.#real = null;
      return null;
    }
    const prev = this.#link;
    const now = performance.now();
    if (
      this.#real !== null &&
      prev !== undefined &&
      now - this.#at < this.#maxAgeMs &&
      prev.ino === link.ino &&
      prev.dev === link.dev &&
      prev.ctimeMs === link.ctimeMs &&
      prev.mtimeMs === link.mtimeMs
    )
      return this.#real;
    this.#link = link;
    this.#at = now;
    this.#real = resolveRoot(this.#root);
    return this.#real;
  }
}

/** The real path of a root, resolved from scratch, or null. */
export function resolveRoot(root: string): string | null {
  try {
    return realpathSync.native(root);
  } catch {
    return null;
  }
}

/** Readiness: the root resolves to a directory this process can read. */
export function checkRoot(root: string): Probe {
  const real = resolveRoot(root);
  if (real === null) return { ok: false, reason: `root ${root} does not exist (waiting for content)` };
  try {
    if (!statSync(real).isDirectory())
      return { ok: false, reason: `root ${root} -> ${real} is not a directory` };
    accessSync(real, constants.R_OK | constants.X_OK);
  } catch (err) {
    return { ok: false, reason: `root ${root} -> ${real} is not readable: ${(err as Error).message}` };
  }
  return { ok: true, reason: `serving ${real}` };
}
