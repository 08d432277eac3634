// The snapshots under TARGET/.snapshots and what is kept of them between syncs: the live one (new
// snapshots hard-link unchanged files from it), one more kept to be recycled (the snapshot it
// replaced, or a spare built while idle), which the next build updates in place in O(changes)
// instead of building from nothing in O(files), and the pruner, which deletes the rest once their
// grace period has passed. Snapshot ids are a timestamp and a sequence number, never reused.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@multipod/service';
import { Pruner } from './prune.ts';
import { currentId, snapshotsDir } from './publish.ts';
import type { Tree } from './scan.ts';
import { type Built, buildSnapshot, type Snapshot } from './snapshot.ts';

export interface SnapshotPoolOptions {
  target: string;
  /** How long a replaced snapshot is left to readers still in it (SYNC_PRUNE_GRACE). */
  pruneGrace: number;
  log: Logger;
  /** The sync in progress, if any: pruning and spares wait for it (they would compete for the disk). */
  busy: () => Promise<unknown> | undefined;
  now?: () => number;
}

export interface BuildRequest {
  tree: Tree;
  /** `copy` for a live source (a directory); `link` for a private staging tree (an unpacked archive). */
  materialize: 'copy' | 'link';
  /** Paths to copy even when their stat looks unchanged. */
  forced?: ReadonlySet<string>;
  signal: AbortSignal;
}

/** A snapshot no reader uses any more, kept to be updated in place into a later one. */
type Recyclable = Snapshot & { id: string; retiredAt: number };

export class SnapshotPool {
  /** TARGET/.snapshots */
  readonly dir: string;
  readonly #opts: SnapshotPoolOptions;
  readonly #now: () => number;
  readonly #pruner: Pruner;
  readonly #abort = new AbortController();
  #current: string | undefined;
  /** The live snapshot and the scan it holds, when it was copied from a live source. */
  #live: Snapshot | undefined;
  #recyclable: Recyclable | undefined;
  #spare: Promise<void> | undefined;
  #pruning = false;
  #pruneTimer: NodeJS.Timeout | undefined;
  #seq = 0;

  constructor(opts: SnapshotPoolOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.dir = snapshotsDir(opts.target);
    this.#pruner = new Pruner(this.dir, opts.pruneGrace, this.#now);
  }

  /** The id TARGET/current points to. */
  get current(): string | undefined {
    return this.#current;
  }

  /** The live snapshot with its scan, to compare the next scan with (directory sources). */
  get live(): Snapshot | undefined {
    return this.#live;
  }

  /** The spare being built, if any: a sync finishes it first (see Scheduler's `before`). */
  get spare(): Promise<void> | undefined {
    return this.#spare;
  }

  /** Removes leftovers of interrupted builds (returned) and reads which snapshot is current. */
  async prepare(): Promise<string[]> {
    const gone = await this.#pruner.removeUnfinished();
    this.#current = currentId(this.#opts.target);
    return gone;
  }

  /** Builds the snapshot of `tree` under a new id, recycling an expired snapshot when there is one. */
  async build(req: BuildRequest): Promise<Built & { id: string }> {
    const id = this.#newId();
    const live = req.materialize === 'copy' ? this.#live : undefined;
    // An expired replaced snapshot is updated in place (O(changes)) rather than rebuilt (O(files)).
    let recycle: Snapshot | undefined;
    const r = this.#recyclable;
    if (live && r && this.#now() - r.retiredAt >= this.#opts.pruneGrace && r.tree.root === req.tree.root) {
      this.#recyclable = undefined;
      this.#pruner.forget(r.id);
      if (existsSync(r.dir)) recycle = r;
    }
    const built = await buildSnapshot({
      snapshotsDir: this.dir,
      id,
      tree: req.tree,
      previous: live,
      recycle,
      forced: req.forced,
      materialize: req.materialize,
      signal: req.signal,
    });
    return { ...built, id };
  }

  /**
   * Call once TARGET/current points to `id`: the snapshot it replaced is retired, and kept to be
   * recycled when the new one was built from it.
   */
  published(id: string, tree: Tree, materialize: 'copy' | 'link'): void {
    const old = this.#current;
    const live = materialize === 'copy' ? this.#live : undefined;
    this.#current = id;
    if (old && old !== id) {
      this.#pruner.retire(old);
      // Keep the replaced snapshot (and what it holds) for recycling; an older spare goes to the pruner.
      if (live && live.dir === join(this.dir, old))
        this.#recyclable = { id: old, dir: live.dir, tree: live.tree, retiredAt: this.#now() };
    }
    if (materialize === 'copy') this.#live = { dir: join(this.dir, id), tree };
    if (this.#opts.pruneGrace === 0) void this.prune();
  }

  /**
   * With nothing to recycle (after the first publish), builds a spare while idle: a hard-linked
   * copy of the live snapshot that nobody ever read, so the next change is applied to it in
   * O(changes) instead of waiting for a full build. Gives way to any sync.
   */
  prepareSpare(): void {
    const live = this.#live;
    if (!live || this.#recyclable || this.#spare || this.#opts.busy() || this.#abort.signal.aborted) return;
    const id = this.#newId();
    const log = this.#opts.log;
    this.#spare = buildSnapshot({
      snapshotsDir: this.dir,
      id,
      tree: live.tree,
      previous: live,
      materialize: 'copy',
      signal: this.#abort.signal,
    })
      .then(
        (built) => {
          if (this.#live === live && !this.#recyclable)
            this.#recyclable = { id, dir: built.dir, tree: live.tree, retiredAt: Number.NEGATIVE_INFINITY };
          else this.#pruner.retire(id);
          log.debug({ spare: id, linked: built.linked }, 'spare snapshot ready for the next change');
        },
        (err: Error) => log.debug({ err: err.message }, 'spare snapshot not built'),
      )
      .finally(() => {
        this.#spare = undefined;
      });
  }

  /** Prunes every half grace period (at least every 250 ms, at most every 15 s) until stop(). */
  startPruning(): void {
    if (this.#pruneTimer || this.#abort.signal.aborted) return;
    const every = Math.max(250, Math.min(this.#opts.pruneGrace || 1000, 30_000) / 2);
    this.#pruneTimer = setInterval(() => void this.prune(), every);
    this.#pruneTimer.unref();
  }

  /** Deletes expired snapshots but the current and the recyclable one; one prune at a time, never during a sync. */
  async prune(): Promise<void> {
    if (this.#pruning || this.#abort.signal.aborted) return;
    const busy = this.#opts.busy();
    if (busy) {
      const later = () => setImmediate(() => void this.prune());
      void busy.then(later, later);
      return;
    }
    this.#pruning = true;
    try {
      const keep = new Set<string>();
      if (this.#current) keep.add(this.#current);
      if (this.#recyclable) keep.add(this.#recyclable.id);
      const removed = await this.#pruner.prune(keep);
      if (removed.length) this.#opts.log.debug({ removed }, 'pruned old snapshots');
    } catch (err) {
      this.#opts.log.warn({ err: (err as Error).message }, 'pruning old snapshots failed');
    } finally {
      this.#pruning = false;
    }
  }

  /** Stops pruning, cuts a spare's build short (it removes what it built) and waits for it. */
  async stop(): Promise<void> {
    clearInterval(this.#pruneTimer);
    this.#abort.abort(new Error('shutting down'));
    await this.#spare;
  }

  #newId(): string {
    for (;;) {
      const stamp = new Date(this.#now())
        .toISOString()
        .replace(/[-:]/g, '')
        .replace('T', '-')
        .replace('.', '-');
      const id = `${stamp.slice(0, -1)}-${(++this.#seq).toString().padStart(4, '0')}`;
      if (!existsSync(join(this.dir, id))) return id;
    }
  }
}
