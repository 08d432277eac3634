// The sidecar's loop, as git-sync's: trigger → sync once (scan the directory, download the
// archive, or fetch the git commit) → publish (build the snapshot, swap TARGET/current) → after publish (metrics, log,
// webhook, prune) → wait for the next trigger. When and what to sync is the scheduler's
// (scheduler.ts); which snapshots are kept, recycled and pruned is the pool's (snapshot-pool.ts). A
// failure keeps the last good snapshot live; readiness waits for the first publish; liveness fails
// after SYNC_MAX_FAILURES consecutive failures.
import { dirname, join, relative, resolve } from 'node:path';
import { Health, type Logger } from '@multipod/service';
import { ArchiveError } from './archive-check.ts';
import type { Config, SourceKind } from './config.ts';
import type { Credentials } from './credentials.ts';
import { createFilter, type Filter } from './filter.ts';
import { createMetrics, type RunResult, type SyncMetrics } from './metrics.ts';
import { prepareTarget, swapCurrent } from './publish.ts';
import { SourceError, SourceMissingError, scanTree, type Tree, treeChanged } from './scan.ts';
import { type Changes, Scheduler } from './scheduler.ts';
import { UnstableError } from './snapshot.ts';
import { SnapshotPool } from './snapshot-pool.ts';
import { ArchiveSource } from './source-archive.ts';
import { DirWatcher } from './source-dir.ts';
import { GitSource } from './source-git.ts';
import { type FailureReason, SourceFailure } from './source-http.ts';
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
  /** For a URL source: credentials, headers, CA (checked at start-up, files read again per sync). */
  credentials?: Credentials | undefined;
  metrics?: SyncMetrics;
  now?: () => number;
}

export interface Outcome {
  result: RunResult;
  snapshot?: string;
  /** The commit published (git sources). */
  commit?: string;
  error?: string;
}

/** A source file that keeps changing while it is copied: scanned and copied again this often. */
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
  readonly #pool: SnapshotPool;
  readonly #scheduler: Scheduler<Outcome>;
  readonly #webhook: Webhook | undefined;
  readonly #archive: ArchiveSource | undefined;
  readonly #git: GitSource | undefined;
  readonly #abort = new AbortController();
  #watcher: DirWatcher | undefined;
  #published = false;
  /** The commit of the current snapshot (git sources). */
  #commit: string | undefined;
  #failures = 0;
  #lastError: string | undefined;
  /** The source's real path at the last scan, which watcher paths are made relative to. */
  #sourceRoot: string | undefined;
  #lastRefused = '';
  #stopping = false;

  constructor(cfg: SyncerConfig, source: SourceKind, deps: SyncerDeps) {
    this.#cfg = cfg;
    this.#source = source;
    this.#log = deps.log;
    this.#now = deps.now ?? Date.now;
    this.metrics = deps.metrics ?? createMetrics();
    this.#filter = createFilter(cfg);
    this.#target = resolve(cfg.target);
    this.#scheduler = new Scheduler({
      debounce: cfg.debounce,
      interval: cfg.interval,
      now: this.#now,
      sync: (changes) => this.#syncOnce(changes),
      // A spare being prepared is finished first: what is left of it, plus the changes applied to
      // it, is less work than the full build that would replace it (one link per file either way).
      before: () => this.#pool.spare,
    });
    this.#pool = new SnapshotPool({
      target: this.#target,
      pruneGrace: cfg.pruneGrace,
      log: this.#log,
      now: this.#now,
      busy: () => this.#scheduler.running,
    });
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
        workDir: join(this.#pool.dir, '.work'),
        timeoutMs: cfg.httpTimeout,
        maxBytes: cfg.maxBytes,
        maxFiles: cfg.maxFiles,
        credentials: deps.credentials,
      });
    if (source.kind === 'git')
      this.#git = new GitSource({
        url: source.url,
        ref: source.ref,
        depth: source.depth,
        root: source.root,
        filter: this.#filter,
        maxFiles: cfg.maxFiles,
        maxBytes: cfg.maxBytes,
        timeoutMs: cfg.httpTimeout,
        credentials: deps.credentials,
        log: this.#log,
      });
    this.health = new Health({
      live: () =>
        cfg.maxFailures > 0 && this.#failures >= cfg.maxFailures
          ? { ok: false, reason: `${this.#failures} syncs failed in a row; last: ${this.#lastError}` }
          : { ok: true },
      ready: () =>
        this.#published
          ? {
              ok: true,
              reason: `snapshot ${this.#pool.current}${this.#commit ? `, commit ${this.#commit}` : ''}`,
            }
          : {
              ok: false,
              reason: `no snapshot published yet${this.#lastError ? `: ${this.#lastError}` : ''}`,
            },
    });
  }

  get current(): string | undefined {
    return this.#pool.current;
  }

  get watchedDirectories(): number {
    return this.#watcher?.count ?? 0;
  }

  /** Creates the target, removes leftovers of interrupted builds. */
  async prepare(): Promise<void> {
    prepareTarget(this.#target);
    const gone = await this.#pool.prepare();
    if (gone.length) this.#log.warn({ removed: gone }, 'removed unfinished snapshots of an earlier run');
    this.#archive?.clean();
  }

  /** One sync, now (SYNC_ONCE, and the first sync of a long run). */
  syncNow(): Promise<Outcome> {
    return this.#scheduler.syncNow();
  }

  /** First sync, then watch (directory) or poll (archive) until stop(). */
  async start(): Promise<void> {
    if (this.#source.kind === 'dir')
      this.#watcher = new DirWatcher({
        onChange: (paths) => this.#changed(paths),
        // Re-read without forcing a publish: one follows only if their contents differ.
        onWatched: (dirs) => this.#scheduler.changed(dirs),
        onError: (err) =>
          this.#log.warn({ err: err.message }, 'watcher error; the periodic rescan covers it'),
      });
    await this.#scheduler.syncNow();
    if (this.#stopping) return;
    this.#scheduler.start();
    this.#pool.startPruning();
  }

  /** Syncs soon, reading the whole source (POST /sync: a push notification). */
  wake(): void {
    if (!this.#stopping) this.#scheduler.wake();
  }

  /** Waits for the webhook call of the last publish (with its retries). */
  async flush(): Promise<void> {
    await this.#webhook?.idle();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#scheduler.stop();
    this.health.drain();
    this.#abort.abort(new Error('shutting down'));
    await this.#pool.stop();
    await this.#scheduler.running?.catch(() => undefined);
    this.#archive?.clean(); // a download or unpack cut short leaves nothing behind
    await this.#watcher?.close();
    await this.#webhook?.stop();
  }

  /** The watcher saw `paths` change: their directories are read again, the paths published. */
  #changed(paths: string[]): void {
    const root = this.#sourceRoot;
    // The directory holding the change, and the path itself in case it is a directory.
    this.#scheduler.changed(
      paths.flatMap((p) => [dirname(p), p]),
      root ? paths.map((p) => relative(root, p)) : [],
    );
  }

  // ---- the loop ---------------------------------------------------------------------------------

  /** Sync once (the scheduler calls it, one at a time): read the source, publish what changed. */
  async #syncOnce(changes: Changes): Promise<Outcome> {
    const started = performance.now();
    let outcome: Outcome;
    try {
      outcome =
        this.#source.kind === 'dir'
          ? await this.#syncDir(this.#source.path, changes)
          : this.#source.kind === 'git'
            ? await this.#syncGit()
            : await this.#syncArchive();
      this.#failures = 0;
      this.#lastError = undefined;
      this.metrics.lastSuccess.set(this.#now() / 1000);
    } catch (err) {
      if (this.#stopping) return { result: 'error', error: 'shutting down' };
      outcome = { result: 'error', error: err instanceof Error ? err.message : String(err) };
      await this.#failed(err, outcome.error!);
      this.#scheduler.retry(changes);
    }
    this.metrics.runs.labels(outcome.result).inc();
    this.metrics.duration.labels(outcome.result).observe((performance.now() - started) / 1000);
    return outcome;
  }

  /** Scans the directory (only the dirty parts, when the scheduler knows them); publishes if it differs. */
  async #syncDir(root: string, changes: Changes): Promise<Outcome> {
    for (let attempt = 1; ; attempt++) {
      const live = this.#pool.live;
      const incremental = changes.dirty !== undefined && attempt === 1;
      const tree = await scanTree(root, {
        filter: this.#filter,
        maxFiles: this.#cfg.maxFiles,
        signal: this.#abort.signal,
        previous: incremental ? live?.tree : undefined,
        dirty: changes.dirty,
      });
      this.#sourceRoot = tree.root;
      this.#warnRefused(tree);
      if (this.#published && live && !treeChanged(live.tree, tree, changes.forced)) {
        await this.#watch(tree);
        return { result: 'unchanged', snapshot: this.#pool.current! };
      }
      try {
        const id = await this.#publish(tree, 'copy', changes.forced);
        await this.#watch(tree);
        setImmediate(() => this.#pool.prepareSpare());
        return { result: 'published', snapshot: id };
      } catch (err) {
        if (!(err instanceof UnstableError) || attempt >= MAX_UNSTABLE_RETRIES) throw err;
        this.#log.debug({ attempt }, `${err.message}; scanning again`);
        await new Promise((r) => setTimeout(r, this.#cfg.debounce + 10 * attempt));
      }
    }
  }

  /** Polls the archive; a new one is unpacked, checked, and published from its staging tree. */
  async #syncArchive(): Promise<Outcome> {
    const fetched = await this.#archive!.fetch(this.#abort.signal);
    if (fetched.unchanged) return { result: 'unchanged', snapshot: this.#pool.current ?? '' };
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

  /** Fetches the ref; a new commit is published (changed blobs written, the rest linked). */
  async #syncGit(): Promise<Outcome> {
    const fetched = await this.#git!.fetch(this.#abort.signal);
    if (fetched.unchanged)
      return { result: 'unchanged', snapshot: this.#pool.current ?? '', commit: fetched.commit };
    this.#warnRefused(fetched.tree);
    const id = await this.#publish(fetched.tree, 'copy', new Set(), fetched.commit);
    fetched.published();
    setImmediate(() => this.#pool.prepareSpare());
    return { result: 'published', snapshot: id, commit: fetched.commit };
  }

  /** Builds the snapshot, swaps TARGET/current to it (readers see it from here), then after-publish. */
  async #publish(
    tree: Tree,
    materialize: 'copy' | 'link',
    forced: ReadonlySet<string>,
    commit?: string,
  ): Promise<string> {
    const t0 = performance.now();
    const signal = this.#abort.signal;
    const built = await this.#pool.build({ tree, materialize, forced, signal });
    if (signal.aborted) throw signal.reason;
    swapCurrent(this.#target, built.id);
    this.#published = true;
    this.#commit = commit;
    this.#pool.published(built.id, tree, materialize);
    this.metrics.setCurrent(built.id, tree.paths.length, tree.bytes, commit);
    this.#log.info(
      {
        snapshot: built.id,
        ...(commit ? { commit } : {}),
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
    void this.#webhook?.notify(built.id, commit);
    return built.id;
  }

  /** A failed sync: counted, logged once per distinct error, and the watches reset if the source went away. */
  async #failed(err: unknown, message: string): Promise<void> {
    this.#failures++;
    this.metrics.errors.labels(reasonOf(err)).inc();
    const repeated = message === this.#lastError;
    this.#lastError = message;
    (repeated ? this.#log.debug : this.#log.error).call(
      this.#log,
      { failures: this.#failures, current: this.#pool.current ?? null },
      `sync failed, keeping the current snapshot: ${message}`,
    );
    // Its watches died with it; the scan after its return watches it afresh.
    if (err instanceof SourceMissingError) await this.#watcher?.reset();
  }

  async #watch(tree: Tree): Promise<void> {
    if (!this.#watcher || this.#stopping) return;
    await this.#watcher.reconcile(tree.watchDirs);
    this.metrics.watches.set(this.#watcher.count);
  }

  #warnRefused(tree: Tree): void {
    const key = tree.refused.join('\n');
    if (key && key !== this.#lastRefused)
      this.#log.warn(
        { refused: tree.refused },
        this.#git
          ? 'left out (submodules, and symlinks that leave the tree, dangle or name a folder); not published'
          : 'symlinks refused (outside the source, or dangling); not published',
      );
    this.#lastRefused = key;
  }
}

/** Why a sync failed, for content_sync_errors_total{reason}. */
function reasonOf(err: unknown): FailureReason {
  if (err instanceof SourceFailure) return err.reason;
  if (err instanceof SourceMissingError) return 'not_found';
  if (err instanceof SourceError || err instanceof ArchiveError) return 'refused';
  return 'other';
}
