// Tails ADAPTER_LOG_PATH: one file, or every file a glob matches (new ones are picked up).
// Woken by fs.watch on the directories and, as a fallback that always works, by a poll timer.
import { type FSWatcher, readdirSync, statSync, watch } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import picomatch from 'picomatch';
import { FileTail, type TailContext, type TailEvents } from './file-tail.ts';
import type { Position, PositionMap } from './positions.ts';

export interface TailerOptions {
  /** A file path or a glob. */
  pattern: string;
  start: 'beginning' | 'end';
  maxLine: number;
  /** Bytes per read. */
  readSize: number;
  /** Saved positions from the last run, by path. */
  positions: PositionMap;
  events: TailEvents;
  /** Clock for the rotation grace period; tests pass their own. */
  now: () => number;
}

export class Tailer {
  readonly #opts: TailerOptions;
  readonly #tails = new Map<string, FileTail>();
  readonly #ctx: TailContext;
  /** Files rotated away, still drained until quiet. */
  readonly #retired: FileTail[] = [];
  readonly #isGlob: boolean;
  /** The glob reaches below its base directory (a/*.log, **), so listing must recurse. */
  readonly #deep: boolean;
  readonly #base: string;
  readonly #match: (path: string) => boolean;
  readonly #watchers: FSWatcher[] = [];
  #first = true;
  #running: Promise<void> | null = null;
  #again = false;

  constructor(opts: TailerOptions) {
    this.#opts = opts;
    this.#ctx = {
      buf: Buffer.allocUnsafe(opts.readSize),
      maxLine: opts.maxLine,
      events: opts.events,
      done: new Map<string, Position>(),
      now: opts.now,
    };
    const scan = picomatch.scan(opts.pattern);
    this.#isGlob = scan.isGlob;
    this.#deep = scan.glob.includes('/');
    this.#base = scan.isGlob ? scan.base || '.' : dirname(opts.pattern);
    this.#match = scan.isGlob ? picomatch(opts.pattern, { dot: false }) : (p) => p === opts.pattern;
  }

  /** Reads everything new in every file. Concurrent calls coalesce into one more pass. */
  poll(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          await this.#pass();
        } while (this.#again);
      } finally {
        this.#running = null;
      }
    })();
    return this.#running;
  }

  /** Watches the directories so new lines are read at once; safe to skip (the timer still polls). */
  watch(onChange: () => void): void {
    try {
      const w = watch(this.#base, { recursive: this.#deep });
      w.on('change', onChange);
      w.on('error', () => w.close());
      this.#watchers.push(w);
    } catch {
      // The directory may not exist yet; the poll timer covers it.
    }
  }

  unwatch(): void {
    for (const w of this.#watchers.splice(0)) w.close();
  }

  async close(): Promise<void> {
    this.unwatch();
    await this.#running;
    for (const t of this.#tails.values()) await t.close();
    for (const t of this.#retired.splice(0)) await t.close();
  }

  /** Positions of every open file (and saved ones of files not opened yet), for the positions file. */
  positions(): PositionMap {
    const out: PositionMap = new Map();
    for (const [path, p] of this.#opts.positions) if (this.#exists(path)) out.set(path, p);
    for (const t of this.#tails.values()) {
      const p = t.position;
      if (p) out.set(t.path, p);
    }
    return out;
  }

  lag(): number {
    let n = 0;
    for (const t of this.#tails.values()) n += t.lag;
    for (const t of this.#retired) n += t.lag;
    return n;
  }

  get fileCount(): number {
    let n = 0;
    for (const t of this.#tails.values()) if (t.open) n++;
    return n;
  }

  /** Why nothing can be read, or null when at least one file is being read. */
  problem(): string | null {
    const tails = [...this.#tails.values()];
    if (tails.some((t) => t.open)) return null;
    const p = tails.find((t) => t.problem)?.problem;
    if (p) return p;
    return this.#isGlob
      ? `no file matches ${this.#opts.pattern} yet (waiting for one)`
      : `${this.#opts.pattern} does not exist yet (waiting for it)`;
  }

  async #pass(): Promise<void> {
    const first = this.#first;
    this.#first = false;
    for (const path of this.#discover()) {
      if (this.#tails.has(path)) continue;
      const start = this.#startAt(path, first);
      if (start === null) continue; // being read under its old name; picked up once let go
      this.#tails.set(path, new FileTail(path, start, this.#ctx));
    }
    for (let i = 0; i < this.#retired.length; i++) {
      if (await this.#retired[i]!.drainRetired()) this.#retired.splice(i--, 1);
    }
    for (const [path, t] of this.#tails) {
      const retired = await t.poll();
      if (retired) this.#retired.push(retired);
      // A glob's file that went away (an old rotation deleted) is forgotten.
      if (this.#isGlob && !t.open && !this.#exists(path)) this.#tails.delete(path);
    }
  }

  #startAt(path: string, first: boolean): 'beginning' | 'end' | Position | null {
    const saved = this.#opts.positions.get(path);
    if (saved) return saved;
    if (this.#isGlob) {
      // A rotated file renamed to a name the glob also matches: continue where its old name stopped.
      let id: { dev: number; ino: number };
      try {
        id = statSync(path);
      } catch {
        return null;
      }
      for (const t of [...this.#tails.values(), ...this.#retired]) {
        const held = t.identity;
        if (held && held.dev === id.dev && held.ino === id.ino) return null;
      }
      const done = this.#ctx.done.get(`${id.dev}:${id.ino}`);
      if (done) return done;
      // Rotated while the adapter was stopped: the positions file knows it under its old name.
      for (const p of this.#opts.positions.values()) if (p.dev === id.dev && p.ino === id.ino) return p;
    }
    // A file that appears after start-up is new: all of it is unread.
    if (!first) return 'beginning';
    return this.#opts.start;
  }

  #discover(): string[] {
    if (!this.#isGlob) return [this.#opts.pattern];
    let names: string[];
    try {
      names = readdirSync(this.#base, { recursive: this.#deep }) as string[];
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const name of names) {
      const full = join(this.#base, name);
      const rel = this.#base === '.' ? relative('.', full) : full;
      if (this.#match(rel) && this.#isFile(full)) out.push(full);
    }
    return out.sort();
  }

  #isFile(path: string): boolean {
    try {
      return statSync(path).isFile();
    } catch {
      return false;
    }
  }

  #exists(path: string): boolean {
    try {
      statSync(path);
      return true;
    } catch {
      return false;
    }
  }
}
