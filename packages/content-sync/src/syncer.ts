// The sidecar's loop: a change (watcher event, rescan tick, or archive poll) → debounce → scan or
// download → build a snapshot → swap TARGET/current → prune, metrics, webhook. A failure keeps
// the last good snapshot live; readiness waits for the first publish; liveness fails after
// SYNC_MAX_FAILURES consecutive failures.
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { Health, type Logger } from '@multipod/service';
import type { Config, SourceKind } from './config.ts';
import { createFilter, type Filter } from './filter.ts';
import { createMetrics, type RunResult, type SyncMetrics } from './metrics.ts';
import { Pruner } from './prune.ts';
import { currentId, prepareTarget, snapshotsDir, swapCurrent } from './publish.ts';
import { sameFile, scanTree, type Tree } from './scan.ts';
import { buildSnapshot, type Previous, type Snapshot, UnstableError } from './snapshot.ts';
import { ArchiveSource } from './source-archive.ts';
import { DirWatcher } from './source-dir.ts';
import { Webhook } from './webhook.ts';

export type SyncerConfig = Pick<
  Config,
  | 'target'
  | 'interval'
  | 'debounce'
  | 'include'
  | 'exclude'
  | 'dotfiles'
  | 'maxFailures'
  | 'pruneGrace'
  | 'maxFiles'
  | 'maxBytes'
  | 'httpTimeout'
  | 'webhookUrl'
  | 'webhookRetries'
>;

export interface SyncerDeps {
  log: Logger;
  metrics?: SyncMetrics;
  now?: () => number;
}

export interface Outcome {
  result: RunResult;
  snapshot?: string;
  error?: string;
}

const MAX_UNSTABLE_RETRIES = 4;

export class Syncer {
  readonly health: Health;
  readonly metrics: SyncMetrics;
  readonly #cfg: SyncerConfig;
  readonly #source: SourceKind;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #filter: Filter;
  readonly #target: string;
  readonly #snapshots: string;
  readonly #pruner: Pruner;
  readonly #webhook: Webhook | undefined;
  readonly #archive: ArchiveSource | undefined;
  readonly #abort = new AbortController();
  #watcher: DirWatcher | undefined;
  #previous: Previous | undefined;
  /** The last replaced snapshot, kept to be recycled into a later one once its grace has passed. */
  #recyclable: (Snapshot & { id: string; retiredAt: number }) | undefined;
  #current: string | undefined;
  #published = false;
  #failures = 0;
  #lastError: string | undefined;
  #forced = new Set<string>();
  /** Directories the watcher saw change since the last scan (absolute real paths). */
  #dirty = new Set<string>();
  #fullScan = true;
  #sourceRoot: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #firstTrigger = 0;
  #tick: NodeJS.Timeout | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #running: Promise<Outcome> | undefined;
  #pending = false;
  #stopping = false;
  #seq = 0;
  #lastRefused = '';
  #prevDirs = '';
  #pruning = false;
  #spare: Promise<void> | undefined;
  #spareAbort: AbortController | undefined;

  constructor(cfg: SyncerConfig, source: SourceKind, deps: SyncerDeps) {
    this.#cfg = cfg;
    this.#source = source;
    this.#log = deps.log;
    this.#now = deps.now ?? Date.now;
    this.metrics = deps.metrics ?? createMetrics();
    this.#filter = createFilter(cfg);
    this.#target = resolve(cfg.target);
    this.#snapshots = snapshotsDir(this.#target);
    this.#pruner = new Pruner(this.#snapshots, cfg.pruneGrace, this.#now);
    if (cfg.webhookUrl)
      this.#webhook = new Webhook({
        url: cfg.webhookUrl,
        retries: cfg.webhookRetries,
        timeoutMs: cfg.httpTimeout,
        log: this.#log,
        onResult: (r) => this.metrics.webhook.labels(r).inc(),
      });
    if (source.kind === 'archive')
      this.#archive = new ArchiveSource({
        url: source.url,
        workDir: join(this.#snapshots, '.work'),
        timeoutMs: cfg.httpTimeout,
        maxBytes: cfg.maxBytes,
        maxFiles: cfg.maxFiles,
      });
    this.health = new Health({
      live: () =>
        cfg.maxFailures > 0 && this.#failures >= cfg.maxFailures
          ? { ok: false, reason: `${this.#failures} syncs failed in a row; last: ${this.#lastError}` }
          : { ok: true },
      ready: () =>
        this.#published
          ? { ok: true, reason: `snapshot ${this.#current}` }
          : {
              ok: false,
              reason: `no snapshot published yet${this.#lastError ? `: ${this.#lastError}` : ''}`,
            },
    });
  }

  get current(): string | undefined {
    return this.#current;
  }

  get watchedDirectories(): number {
    return this.#watcher?.count ?? 0;
  }

  /** Creates the target, removes leftovers of interrupted builds. */
  async prepare(): Promise<void> {
    prepareTarget(this.#target);
    const gone = await this.#pruner.removeUnfinished();
    if (gone.length) this.#log.warn({ removed: gone }, 'removed unfinished snapshots of an earlier run');
    this.#archive?.clean();
    this.#current = currentId(this.#target);
  }

  /** One sync, now (SYNC_ONCE, and the first sync of a long run). */
  syncNow(): Promise<Outcome> {
    return this.#kick();
  }

  /** First sync, then watch (directory) or poll (archive) until stop(). */
  async start(): Promise<void> {
    if (this.#source.kind === 'dir')
      this.#watcher = new DirWatcher({
        onChange: (paths) => this.#changed(paths),
        onWatched: (dirs) => this.#reread(dirs),
        onError: (err) =>
          this.#log.warn({ err: err.message }, 'watcher error; the periodic rescan covers it'),
      });
    await this.#kick();
    if (this.#stopping) return;
    this.#tick = setInterval(() => {
      this.#fullScan = true; // the safety net: read every directory, trust no event
      this.#trigger(0);
    }, this.#cfg.interval);
    const every = Math.max(250, Math.min(this.#cfg.pruneGrace || 1000, 30_000) / 2);
    this.#pruneTimer = setInterval(() => void this.#prune(), every);
    this.#pruneTimer.unref();
  }

  /** Waits for the webhook call of the last publish (with its retries). */
  async flush(): Promise<void> {
    await this.#webhook?.idle();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    clearInterval(this.#tick);
    clearInterval(this.#pruneTimer);
    this.health.drain();
    this.#abort.abort(new Error('shutting down'));
    this.#spareAbort?.abort(new Error('shutting down'));
    await this.#spare;
    await this.#running?.catch(() => undefined);
    this.#archive?.clean(); // a download or unpack cut short leaves nothing behind
    await this.#watcher?.close();
    await this.#webhook?.stop();
  }

  #changed(paths: string[]): void {
    const root = this.#sourceRoot;
    for (const p of paths) {
      if (root) this.#forced.add(relative(root, p));
      // The directory holding the change, and the path itself in case it is a directory.
      this.#dirty.add(dirname(p));
      this.#dirty.add(p);
    }
    this.#trigger(this.#cfg.debounce);
  }

  /** Re-reads directories without forcing a publish: one only follows if their contents differ. */
  #reread(dirs: string[]): void {
    for (const d of dirs) this.#dirty.add(d);
    this.#trigger(this.#cfg.debounce);
  }

  /** Debounce: run after `quiet` ms without another change, but no later than 1s after the first. */
  #trigger(quiet: number): void {
    if (this.#stopping) return;
    const now = this.#now();
    if (this.#timer === undefined) this.#firstTrigger = now;
    clearTimeout(this.#timer);
    const maxWait = Math.max(1000, quiet * 10);
    const delay = Math.max(0, Math.min(quiet, this.#firstTrigger + maxWait - now));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#kick();
    }, delay);
  }

  #kick(): Promise<Outcome> {
    if (this.#running) {
      this.#pending = true;
      return this.#running;
    }
    // A spare being prepared is finished first: what is left of it, plus the changes applied to
    // it, is less work than the full build that would replace it (one link per file either way).
    const spare = this.#spare;
    const run = (spare ? spare.then(() => this.#run()) : this.#run()).finally(() => {
      this.#running = undefined;
      if (this.#pending && !this.#stopping) {
        this.#pending = false;
        this.#trigger(this.#cfg.debounce);
      }
    });
    this.#running = run;
    return run;
  }

  async #run(): Promise<Outcome> {
    const started = performance.now();
    const forced = this.#forced;
    this.#forced = new Set();
    const dirty = this.#dirty;
    this.#dirty = new Set();
    const full = this.#fullScan;
    this.#fullScan = false;
    let outcome: Outcome;
    try {
      outcome =
        this.#source.kind === 'dir'
          ? await this.#runDir(this.#source.path, forced, full ? undefined : dirty)
          : await this.#runArchive();
      this.#failures = 0;
      this.#lastError = undefined;
      this.metrics.lastSuccess.set(this.#now() / 1000);
    } catch (err) {
      for (const f of forced) this.#forced.add(f);
      for (const d of dirty) this.#dirty.add(d);
      this.#fullScan = true; // after a failure, trust nothing remembered
      const message = err instanceof Error ? err.message : String(err);
      if (this.#stopping) return { result: 'error', error: 'shutting down' };
      this.#failures++;
      const repeated = message === this.#lastError;
      this.#lastError = message;
      (repeated ? this.#log.debug : this.#log.error).call(
        this.#log,
        { failures: this.#failures, current: this.#current ?? null },
        `sync failed, keeping the current snapshot: ${message}`,
      );
      outcome = { result: 'error', error: message };
      if (message.includes('missing')) await this.#watcher?.reset();
      // Retry soon (not only at the next interval): a source that comes back is seen quickly.
      if (!this.#stopping && this.#tick) this.#trigger(Math.min(this.#cfg.interval, 1000));
    }
    this.metrics.runs.labels(outcome.result).inc();
    this.metrics.duration.labels(outcome.result).observe((performance.now() - started) / 1000);
    return outcome;
  }

  /** `dirty` undefined means a full scan; else only those directories (and changed ones) are read. */
  async #runDir(root: string, forced: Set<string>, dirty: Set<string> | undefined): Promise<Outcome> {
    const signal = this.#abort.signal;
    for (let attempt = 1; ; attempt++) {
      const incremental = dirty !== undefined && attempt === 1 && this.#previous !== undefined;
      const tree = await scanTree(root, {
        filter: this.#filter,
        maxFiles: this.#cfg.maxFiles,
        signal,
        previous: incremental ? this.#previous?.tree : undefined,
        dirty,
      });
      this.#sourceRoot = tree.root;
      this.#warnRefused(tree);
      if (this.#published && !this.#differs(tree, forced)) {
        await this.#watch(tree);
        return { result: 'unchanged', snapshot: this.#current! };
      }
      try {
        const id = await this.#publish(tree, 'copy', forced);
        this.#previous = { dir: join(this.#snapshots, id), tree };
        this.#prevDirs = tree.dirs.join('\0');
        await this.#watch(tree);
        if (!this.#recyclable) setImmediate(() => this.#prepareSpare());
        return { result: 'published', snapshot: id };
      } catch (err) {
        if (!(err instanceof UnstableError) || attempt >= MAX_UNSTABLE_RETRIES) throw err;
        this.#log.debug({ attempt }, `${err.message}; scanning again`);
        await new Promise((r) => setTimeout(r, this.#cfg.debounce + 10 * attempt));
      }
    }
  }

  async #runArchive(): Promise<Outcome> {
    const fetched = await this.#archive!.fetch(this.#abort.signal);
    if (fetched.unchanged) return { result: 'unchanged', snapshot: this.#current ?? '' };
    try {
      const tree = await scanTree(fetched.dir, {
        filter: this.#filter,
        maxFiles: this.#cfg.maxFiles,
        signal: this.#abort.signal,
      });
      this.#warnRefused(tree);
      const id = await this.#publish(tree, 'link', new Set());
      fetched.commit();
      return { result: 'published', snapshot: id };
    } finally {
      fetched.discard();
    }
  }

  async #publish(tree: Tree, materialize: 'copy' | 'link', forced: ReadonlySet<string>): Promise<string> {
    const t0 = performance.now();
    const id = this.#newId();
    const live = materialize === 'copy' ? this.#previous : undefined;
    // An expired replaced snapshot is updated in place (O(changes)) rather than rebuilt (O(files)).
    let recycle: Snapshot | undefined;
    const r = this.#recyclable;
    if (live && r && this.#now() - r.retiredAt >= this.#cfg.pruneGrace && r.tree.root === tree.root) {
      this.#recyclable = undefined;
      this.#pruner.forget(r.id);
      if (existsSync(r.dir)) recycle = r;
    }
    const built = await buildSnapshot({
      snapshotsDir: this.#snapshots,
      id,
      tree,
      previous: live,
      recycle,
      forced,
      materialize,
      signal: this.#abort.signal,
    });
    if (this.#abort.signal.aborted) throw this.#abort.signal.reason;
    swapCurrent(this.#target, id);
    const old = this.#current;
    this.#current = id;
    this.#published = true;
    if (old && old !== id) {
      this.#pruner.retire(old);
      // Keep the replaced snapshot (and what it holds) for recycling; an older spare goes to the pruner.
      if (live && live.dir === join(this.#snapshots, old))
        this.#recyclable = { id: old, dir: live.dir, tree: live.tree, retiredAt: this.#now() };
    }
    this.metrics.setCurrent(id, tree.paths.length, tree.bytes);
    this.#log.info(
      {
        snapshot: id,
        files: tree.paths.length,
        bytes: tree.bytes,
        linked: built.linked,
        copied: built.copied,
        ...(built.recycled ? { recycled: true, kept: built.kept, removed: built.removed } : {}),
        ms: Math.round(performance.now() - t0),
        rssMiB: Math.round(process.memoryUsage.rss() / 2 ** 20),
      },
      'published',
    );
    void this.#webhook?.notify(id);
    if (this.#cfg.pruneGrace === 0) void this.#prune();
    return id;
  }

  /**
   * With no replaced snapshot to recycle (after the first publish), builds a spare while idle: a
   * hard-linked copy of the live snapshot that nobody ever read, so the next change is applied
   * to it in O(changes) instead of waiting for a full build. Gives way to any sync.
   */
  #prepareSpare(): void {
    const live = this.#previous;
    if (!live || this.#recyclable || this.#spare || this.#running || this.#stopping) return;
    const ctl = new AbortController();
    const id = this.#newId();
    this.#spareAbort = ctl;
    this.#spare = buildSnapshot({
      snapshotsDir: this.#snapshots,
      id,
      tree: live.tree,
      previous: live,
      materialize: 'copy',
      signal: AbortSignal.any([ctl.signal, this.#abort.signal]),
    })
      .then(
        (built) => {
          if (this.#previous === live && !this.#recyclable)
            this.#recyclable = { id, dir: built.dir, tree: live.tree, retiredAt: Number.NEGATIVE_INFINITY };
          else this.#pruner.retire(id);
          this.#log.debug({ spare: id, linked: built.linked }, 'spare snapshot ready for the next change');
        },
        (err: Error) => this.#log.debug({ err: err.message }, 'spare snapshot not built'),
      )
      .finally(() => {
        this.#spare = undefined;
        this.#spareAbort = undefined;
      });
  }

  /** One prune at a time, and never during a sync (both would compete for the same disk). */
  async #prune(): Promise<void> {
    if (this.#pruning || this.#stopping) return;
    if (this.#running) {
      void this.#running.finally(() => setImmediate(() => void this.#prune()));
      return;
    }
    this.#pruning = true;
    try {
      const keep = new Set<string>();
      if (this.#current) keep.add(this.#current);
      if (this.#recyclable) keep.add(this.#recyclable.id);
      const removed = await this.#pruner.prune(keep);
      if (removed.length) this.#log.debug({ removed }, 'pruned old snapshots');
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'pruning old snapshots failed');
    } finally {
      this.#pruning = false;
    }
  }

  async #watch(tree: Tree): Promise<void> {
    if (!this.#watcher || this.#stopping) return;
    await this.#watcher.reconcile(tree.watchDirs);
    this.metrics.watches.set(this.#watcher.count);
  }

  #differs(tree: Tree, forced: ReadonlySet<string>): boolean {
    const prev = this.#previous;
    if (!prev) return true;
    for (const rel of forced) if (tree.index.has(rel)) return true;
    if (prev.tree.paths.length !== tree.paths.length) return true;
    for (let i = 0; i < tree.paths.length; i++) {
      const j = prev.tree.index.get(tree.paths[i]!);
      if (j === undefined || !sameFile(tree, i, prev.tree, j)) return true;
    }
    return tree.dirs.join('\0') !== this.#prevDirs;
  }

  #warnRefused(tree: Tree): void {
    const key = tree.refused.join('\n');
    if (key && key !== this.#lastRefused)
      this.#log.warn(
        { refused: tree.refused },
        'symlinks refused (outside the source, or dangling); not published',
      );
    this.#lastRefused = key;
  }

  #newId(): string {
    for (;;) {
      const stamp = new Date(this.#now())
        .toISOString()
        .replace(/[-:]/g, '')
        .replace('T', '-')
        .replace('.', '-');
      const id = `${stamp.slice(0, -1)}-${(++this.#seq).toString().padStart(4, '0')}`;
      if (!existsSync(join(this.#snapshots, id))) return id;
    }
  }
}
