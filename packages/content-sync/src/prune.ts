// Deletes snapshots that stopped being current more than the grace period ago (readers that
// resolved the old link a moment before the swap finish their reads); never the current one.
import { readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TMP_PREFIX } from './snapshot.ts';

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
    for (const n of gone) await rm(join(this.#dir, n), { recursive: true, force: true });
    return gone;
  }

  /** Deletes expired snapshots; returns their ids. */
  async prune(current: string | undefined): Promise<string[]> {
    const now = this.#now();
    const removed: string[] = [];
    for (const id of this.#list()) {
      if (id === current || id.startsWith('.')) continue;
      const since = this.#retired.get(id);
      if (since === undefined) {
        this.#retired.set(id, now);
        if (this.#grace > 0) continue;
      } else if (now - since < this.#grace) continue;
      await rm(join(this.#dir, id), { recursive: true, force: true });
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
