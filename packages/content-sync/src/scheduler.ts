// When the sidecar syncs, and what each sync has to read. A change seen by the watcher is
// debounced (a burst of writes becomes one sync, never more than a second late); the periodic
// rescan (or archive poll) reads everything, as does a wake-up (POST /sync); a failed sync is tried again soon; a caller may ask
// for a sync now. One sync runs at a time: what arrives during one is kept for the next, which
// follows it at once.

/** What a sync has to look at. */
export interface Changes {
  /** Paths (relative to the source) the watcher saw change: published even when their stat looks the same. */
  readonly forced: ReadonlySet<string>;
  /** Directories to read again (absolute real paths); undefined: read every directory. */
  readonly dirty: ReadonlySet<string> | undefined;
}

export interface SchedulerOptions<T> {
  /** Quiet time after the last change before a sync starts. */
  debounce: number;
  /** Period of the full rescan, or of the archive poll. */
  interval: number;
  /** One sync; never rejects (a failure is a result, followed by retry()). */
  sync(changes: Changes): Promise<T>;
  /**
   * Something a sync waits for before it takes its changes (the spare snapshot being built):
   * changes that arrive meanwhile go into that sync rather than the next.
   */
  before?(): Promise<void> | undefined;
  now?: () => number;
}

/** The longest a burst of changes delays its sync: a second, or ten quiet periods. */
const maxWait = (quiet: number) => Math.max(1000, quiet * 10);

export class Scheduler<T> {
  readonly #opts: SchedulerOptions<T>;
  readonly #now: () => number;
  #forced = new Set<string>();
  #dirty = new Set<string>();
  /** The first sync reads everything, as does any after a failure or a periodic tick. */
  #full = true;
  #timer: NodeJS.Timeout | undefined;
  #firstTrigger = 0;
  #tick: NodeJS.Timeout | undefined;
  #running: Promise<T> | undefined;
  #pending = false;
  #stopped = false;

  constructor(opts: SchedulerOptions<T>) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** The sync in progress, if any. */
  get running(): Promise<T> | undefined {
    return this.#running;
  }

  /** The periodic full rescan (or poll) from now on; the first sync is the caller's. */
  start(): void {
    if (this.#stopped || this.#tick) return;
    this.#tick = setInterval(() => {
      this.#full = true; // the safety net: read every directory, trust no event
      this.#trigger(0);
    }, this.#opts.interval);
  }

  /** No sync starts after this; the one in progress (see `running`) is the caller's to await. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#tick);
  }

  /** Notes what the watcher saw and syncs after the debounce. */
  changed(dirs: Iterable<string>, forced: Iterable<string> = []): void {
    for (const d of dirs) this.#dirty.add(d);
    for (const f of forced) this.#forced.add(f);
    this.#trigger(this.#opts.debounce);
  }

  /** A push notification (POST /sync): read everything, now. */
  wake(): void {
    this.#full = true;
    this.#trigger(0);
  }

  /**
   * After a failed sync: its changes go back, the next sync reads everything (trust nothing
   * remembered), and it comes soon, not only at the next interval, so a source that comes back is
   * seen quickly. Before start() (the first sync, --once) nothing is retried.
   */
  retry(changes: Changes): void {
    for (const f of changes.forced) this.#forced.add(f);
    for (const d of changes.dirty ?? []) this.#dirty.add(d);
    this.#full = true;
    if (this.#tick) this.#trigger(Math.min(this.#opts.interval, 1000));
  }

  /** Syncs now; while a sync runs, its promise (and another sync follows it). */
  syncNow(): Promise<T> {
    if (this.#running) {
      this.#pending = true;
      return this.#running;
    }
    const before = this.#opts.before?.();
    const run = (before ? before.then(() => this.#syncTaken()) : this.#syncTaken()).finally(() => {
      this.#running = undefined;
      if (this.#pending && !this.#stopped) {
        this.#pending = false;
        this.#trigger(this.#opts.debounce);
      }
    });
    this.#running = run;
    return run;
  }

  #syncTaken(): Promise<T> {
    const changes: Changes = { forced: this.#forced, dirty: this.#full ? undefined : this.#dirty };
    this.#forced = new Set();
    this.#dirty = new Set();
    this.#full = false;
    return this.#opts.sync(changes);
  }

  /** Debounce: sync after `quiet` ms without another change, but no later than maxWait after the first. */
  #trigger(quiet: number): void {
    if (this.#stopped) return;
    const now = this.#now();
    if (this.#timer === undefined) this.#firstTrigger = now;
    clearTimeout(this.#timer);
    const delay = Math.max(0, Math.min(quiet, this.#firstTrigger + maxWait(quiet) - now));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.syncNow();
    }, delay);
  }
}
