// Watches a source directory for changes with chokidar, one inotify watch per directory (never
// per file). Directories are handed over in batches, each watched at depth 0 and awaited before
// the next, so the initial scan stays small in memory even on a 100k-file tree. The scanner
// tells which directories exist; this module only reconciles the watch set and reports changes.
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import type { WatchDir } from './scan.ts';

export interface DirWatcherOptions {
  /** Called with absolute paths (files or directories) that changed. */
  onChange(paths: string[]): void;
  onError(err: Error): void;
  /**
   * Called with the directories a reconcile started watching, the first one included. A watch
   * starts after the scan that found its directory (the first ones after the whole first
   * publish, seconds on a big tree), so a write in between would be seen only by the next full
   * rescan; the caller re-reads these directories once their watches are in place.
   */
  onWatched?(dirs: string[]): void;
  /** Most directory entries handed to one chokidar watcher at once. */
  batchEntries?: number;
}

interface Owned {
  watcher: FSWatcher;
  ino: number;
}

export class DirWatcher {
  readonly #opts: DirWatcherOptions;
  readonly #owned = new Map<string, Owned>();
  #watchers: FSWatcher[] = [];
  #closed = false;

  constructor(opts: DirWatcherOptions) {
    this.#opts = opts;
  }

  /** Number of directories watched (≈ inotify watches). */
  get count(): number {
    return this.#owned.size;
  }

  /** Makes the watched set equal `dirs` (from the latest scan). */
  async reconcile(dirs: ReadonlyMap<string, WatchDir>): Promise<void> {
    for (const [dir, own] of this.#owned) {
      const now = dirs.get(dir);
      if (now && now.ino === own.ino) continue;
      own.watcher.unwatch(dir);
      this.#owned.delete(dir);
    }
    const added = [...dirs].filter(([dir]) => !this.#owned.has(dir));
    const limit = this.#opts.batchEntries ?? 500;
    let batch: Array<[string, WatchDir]> = [];
    let entries = 0;
    for (const item of added) {
      batch.push(item);
      entries += item[1].entries + 1;
      if (entries >= limit) {
        await this.#watchBatch(batch);
        batch = [];
        entries = 0;
      }
    }
    if (batch.length) await this.#watchBatch(batch);
    if (added.length && !this.#closed) this.#opts.onWatched?.(added.map(([dir]) => dir));
  }

  /** Drops every watch (the source vanished); the next reconcile starts afresh. */
  async reset(): Promise<void> {
    const ws = this.#watchers;
    this.#watchers = [];
    this.#owned.clear();
    await Promise.all(ws.map((w) => w.close()));
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.reset();
  }

  async #watchBatch(batch: Array<[string, WatchDir]>): Promise<void> {
    if (this.#closed) return;
    const w = watch(
      batch.map(([d]) => d),
      // depth 0: each directory watches its own entries; subdirectories are in their own batch.
      // atomic off: an unlink is reported at once, not held back 100 ms to pair it with an add.
      {
        depth: 0,
        ignoreInitial: true,
        atomic: false,
        followSymlinks: false,
        persistent: true,
        ignored: (_path: string, st?: Stats) => st !== undefined && !st.isDirectory(),
      },
    );
    // The raw event arrives first (before chokidar's own stat), which keeps propagation fast; the
    // normalised events follow and are cheap duplicates for the debounced syncer.
    w.on('raw', (_event, name, details) => {
      const dir = (details as { watchedPath?: string } | undefined)?.watchedPath;
      if (dir) this.#opts.onChange([name ? join(dir, String(name)) : dir]);
    });
    w.on('all', (_event, path) => this.#opts.onChange([path]));
    w.on('error', (err) => this.#opts.onError(err as Error));
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
    if (this.#closed) {
      await w.close();
      return;
    }
    this.#watchers.push(w);
    for (const [dir, info] of batch) this.#owned.set(dir, { watcher: w, ino: info.ino });
  }
}
