// Tails ADAPTER_LOG_PATH: one file, or every file a glob matches (new ones are picked up).
// Woken by fs.watch on the directories and, as a fallback that always works, by a poll timer.
import { type FSWatcher, readdirSync, statSync, watch } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import picomatch from 'picomatch';
import { FileTail, type StartAt, type TailContext, type TailEvents } from './file-tail.ts';
import type { PositionMap, RotatedPosition, SavedPositions } from './positions.ts';
import { fileKey, type Recovery, recover } from './recover.ts';

export interface TailerOptions {
  /** A file path or a glob. */
  pattern: string;
  start: 'beginning' | 'end';
  maxLine: number;
  /** Bytes per read. */
  readSize: number;
  /** What the positions file of the last run says (empty when there is none). */
  saved: SavedPositions;
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
  /** Files of the last run found again at start-up, by dev:ino, until a tail takes each. */
  #found: Recovery['found'] = new Map();
  #running: Promise<void> | null = null;
  #again = false;

  constructor(opts: TailerOptions) {
    this.#opts = opts;
    this.#ctx = {
      buf: Buffer.allocUnsafe(opts.readSize),
      maxLine: opts.maxLine,
      events: opts.events,
      done: new Map(),
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

  /**
   * For the positions file: every open file (and saved ones not opened yet), and the files rotated
   * away that are still being read, so a restart finishes them.
   */
  positions(): { files: PositionMap; rotated: RotatedPosition[] } {
    const files: PositionMap = new Map();
    const rotated: RotatedPosition[] = [];
    for (const t of this.#retired) {
      const p = t.checkpoint();
      if (p) rotated.push({ path: t.path, ...p });
    }
    const held = new Set(rotated.map(fileKey));
    for (const [path, p] of this.#opts.saved.files)
      if (this.#follows(path) && !held.has(fileKey(p)) && this.#exists(path)) files.set(path, p);
    for (const t of this.#tails.values()) {
      const p = t.checkpoint();
      if (p) files.set(t.path, p);
    }
    return { files, rotated };
  }

  /** Each file being read at a followed path, with its format. */
  formats(): { path: string; format: string }[] {
    const out: { path: string; format: string }[] = [];
    for (const t of this.#tails.values()) if (t.open) out.push({ path: t.path, format: t.format });
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
    if (first) this.#recover();
    const fresh: [string, StartAt][] = [];
    for (const path of this.#discover()) {
      if (this.#tails.has(path)) continue;
      const start = this.#startAt(path, first);
      if (start === null) continue; // being read under its old name; picked up once let go
      fresh.push([path, start]);
    }
    // A file resumed where the last run stopped is older than one read from its start: finish it first.
    fresh.sort((a, b) => Number(typeof b[1] === 'object') - Number(typeof a[1] === 'object'));
    for (const [path, start] of fresh) this.#tails.set(path, new FileTail(path, start, this.#ctx));
    for (let i = 0; i < this.#retired.length; i++) {
      if (await this.#retired[i]!.drainRetired()) this.#retired.splice(i--, 1);
    }
    for (const [path, t] of this.#tails) {
      this.#retired.push(...(await t.poll()));
      // A glob's file that went away (an old rotation deleted) is forgotten.
      if (this.#isGlob && !t.open && !this.#exists(path)) this.#tails.delete(path);
    }
  }

  /** Finds the files of the last run; those rotated away from every followed path are finished first. */
  #recover(): void {
    const r = recover(this.#opts.saved, (path) => this.#follows(path));
    for (const l of r.lost) this.#ctx.events.lost(l.path, l.position.offset);
    for (const [key, f] of r.found) {
      if (this.#follows(f.path)) continue; // its tail resumes it (see #startAt)
      r.found.delete(key);
      this.#retired.push(FileTail.resumeRotated(f.path, f.position, this.#ctx));
    }
    this.#found = r.found;
  }

  #startAt(path: string, first: boolean): StartAt | null {
    let id: { dev: number; ino: number } | null = null;
    try {
      id = statSync(path);
    } catch {
      // Not there (yet): the tail waits for it.
    }
    if (id) {
      const key = fileKey(id);
      if (this.#isGlob) {
        // A rotated file renamed to a name the glob also matches: continue where its old name stopped.
        for (const t of [...this.#tails.values(), ...this.#retired]) {
          const held = t.identity;
          if (held && fileKey(held) === key) return null;
        }
        const done = this.#ctx.done.get(key);
        if (done) return done;
      }
      const found = this.#found.get(key);
      if (found) {
        this.#found.delete(key);
        return found.position;
      }
    }
    // A file that appears after start-up is new: all of it is unread. So is one at start-up that
    // the positions file of the last run does not know: it appeared while the adapter was stopped.
    if (!first || this.#opts.saved.existed) return 'beginning';
    return this.#opts.start;
  }

  #follows(path: string): boolean {
    return this.#match(path);
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
