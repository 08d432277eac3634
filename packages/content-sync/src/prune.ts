// Deletes snapshots that stopped being current more than the grace period ago (readers that
// resolved the old link a moment before the swap finish their reads); never the current one.
import { readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { TMP_PREFIX } from './snapshot.ts';

/**
 * The names the syncer gives snapshots (`20261125-145501-123-0007`): the only entries of .snapshots
 * ever deleted, so a target whose .snapshots holds someone else's (snapper's, a backup tool's)
 * loses nothing.
 */
const SNAPSHOT_ID = /^\d{8}-\d{6}-\d{3}-\d{4,}$/;

export class Pruner {
  readonly #dir: string;
  readonly #grace: number;
  readonly #now: () => number;
  /** Snapshot id → when it stopped being current (or was first seen not current). */
  readonly #retired = new Map<string, number>();

  constructor(snapshotsDir: string, graceMs: number, now: () => number = Date.now) {
    this.#dir = snapshotsDir;
    this.#grace = graceMs;
    this.#now = now;
  }

  retire(id: string): void {
    this.#retired.set(id, this.#now());
  }

  /** Removes leftovers of builds interrupted by a crash or SIGKILL (call before the first build). */
  async removeUnfinished(): Promise<string[]> {
    const gone = this.#list().filter((n) => n.startsWith(TMP_PREFIX));
    for (const n of gone) await removeTree(join(this.#dir, n));
    return gone;
  }

  /** Forgets a snapshot that was taken over (recycled into a new one). */
  forget(id: string): void {
    this.#retired.delete(id);
  }

  /** Deletes expired snapshots except those in `keep` (the current one, the one kept to recycle). */
  async prune(keep: ReadonlySet<string>): Promise<string[]> {
    const now = this.#now();
    const removed: string[] = [];
    for (const id of this.#list()) {
      if (keep.has(id) || !SNAPSHOT_ID.test(id)) continue;
      const since = this.#retired.get(id);
      if (since === undefined) {
        this.#retired.set(id, now);
        if (this.#grace > 0) continue;
      } else if (now - since < this.#grace) continue;
      await removeTree(join(this.#dir, id));
      this.#retired.delete(id);
      removed.push(id);
    }
    return removed;
  }

  /** The soonest time a retired snapshot becomes prunable, for scheduling; undefined when none. */
  nextDue(): number | undefined {
    let soonest: number | undefined;
    for (const since of this.#retired.values()) {
      const due = since + this.#grace;
      if (soonest === undefined || due < soonest) soonest = due;
    }
    return soonest;
  }

  #list(): string[] {
    try {
      return readdirSync(this.#dir);
    } catch {
      return [];
    }
  }
}

/**
 * Deletes a directory tree with synchronous calls in slices, yielding between them. (Node's
 * recursive rm runs the unlinks of a 100k-file tree in parallel and costs hundreds of MiB of RSS.)
 */
async function removeTree(dir: string): Promise<void> {
  const stack: string[] = [dir];
  const dirs: string[] = [];
  let work = 0;
  while (stack.length) {
    const d = stack.pop()!;
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    dirs.push(d);
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else {
        try {
          unlinkSync(p);
        } catch {
          // Already gone.
        }
      }
      if (++work % 1000 === 0) await new Promise((r) => setImmediate(r));
    }
  }
  for (const d of dirs.reverse()) {
    try {
      rmdirSync(d);
    } catch {
      // Already gone.
    }
  }
}
