// Follows one path: reads new bytes into a reused buffer and hands them to a line splitter.
// Notices the three rotations (rename + create, delete + recreate: a new inode at the path;
// copytruncate: the file shrank). A file rotated away is not dropped at once: writers keep
// writing to it until they reopen, so it is retired and drained until it has been quiet for a
// grace period. No line is lost.
import {
  close,
  closeSync,
  fstat,
  open,
  openSync,
  read,
  readdirSync,
  readSync,
  type Stats,
  stat,
  statSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { type LineSink, LineSplitter } from './line-splitter.ts';
import { CHECK_BYTES, checkAt, type Position } from './positions.ts';

const openP = promisify(open);
const closeP = promisify(close);
const statP = promisify(stat);
const fstatP = promisify(fstat);
const readP = promisify(read);

/** How long a rotated-away or deleted file is still read after its last new byte. */
export const ROTATION_GRACE_MS = 5_000;

export type RotationReason = 'replaced' | 'truncated';

/** Where one file's lines go, and the format they are read in. */
export interface LineSource extends LineSink {
  readonly format: string;
}

export interface TailEvents {
  /** A new source for the lines of the file now at `path` (made again after each rotation). */
  source(path: string): LineSource;
  bytes(n: number): void;
  rotated(path: string, reason: RotationReason): void;
  /** The file cannot be opened or read (permission denied, not a regular file…). */
  error(path: string, message: string): void;
  /** A file of the last run (read up to `offset`) is nowhere to be found at start-up. */
  lost(path: string, offset: number): void;
}

export type StartAt = 'beginning' | 'end' | Position;

/** What FileTails of one tailer share. */
export interface TailContext {
  buf: Buffer;
  maxLine: number;
  events: TailEvents;
  /** Where reading stopped in files let go of (by dev:ino), so a renamed one is not read twice. */
  done: Map<string, Position>;
  now: () => number;
}

export class FileTail {
  readonly path: string;
  #fd: number | null = null;
  #dev = 0;
  #ino = 0;
  #offset = 0;
  #size = 0;
  /** Why the file cannot be read right now, for /readyz. */
  problem: string | null = null;
  #splitter: LineSplitter;
  /** Where this file's lines go: a new source for each new file at the path (its format detected again). */
  #source: LineSource;
  readonly #ctx: TailContext;
  #startAt: StartAt;
  /** When the path was first seen missing (the file renamed or deleted), or null. */
  #missingSince: number | null = null;
  /** For a retired tail: when it last grew. */
  #lastGrowth = 0;
  readonly #retired: boolean;
  /** A resumed rotated file not opened yet. */
  #resuming = false;
  /** The last bytes read (up to CHECK_BYTES, ending at the read offset): how a copytruncate's copy is recognised. */
  #recent: Buffer | null = null;
  #recentLen = 0;
  #probe: Buffer | null = null;

  constructor(path: string, startAt: StartAt, ctx: TailContext, retired = false) {
    this.path = path;
    this.#startAt = startAt;
    this.#ctx = ctx;
    this.#splitter = new LineSplitter(ctx.maxLine);
    this.#source = ctx.events.source(path);
    this.#retired = retired;
  }

  /** The format of this file's lines (`unknown` until detected). */
  get format(): string {
    return this.#source.format;
  }

  get open(): boolean {
    return this.#fd !== null;
  }

  get identity(): { dev: number; ino: number } | null {
    return this.#fd === null ? null : { dev: this.#dev, ino: this.#ino };
  }

  /** Offset just after the last whole line: where a restart resumes. */
  get position(): Position | null {
    if (this.#fd === null) return null;
    return { dev: this.#dev, ino: this.#ino, offset: this.#offset - this.#splitter.pending };
  }

  /** The position with a check of the bytes before it, for the positions file. */
  checkpoint(): Position | null {
    if (this.#resuming) return this.#startAt as Position;
    const p = this.position;
    if (p === null) return null;
    const check = checkAt(this.#fd!, p.offset);
    return check ? { ...p, check } : p;
  }

  /**
   * A file rotated away while the adapter was stopped, found again (see recover.ts): drained from
   * the saved offset like a tail retired at run time. If it is no longer that file when it is
   * opened, nothing of it is read.
   */
  static resumeRotated(path: string, position: Position, ctx: TailContext): FileTail {
    const t = new FileTail(path, position, ctx, true);
    t.#lastGrowth = ctx.now();
    t.#resuming = true;
    return t;
  }

  /** Bytes in the file not read yet (as of the last look). */
  get lag(): number {
    return Math.max(0, this.#size - this.#offset);
  }

  /**
   * Looks at the path, follows any rotation, and reads to the end. Returns the tails of files
   * rotated away, for the caller to keep draining (see drainRetired).
   */
  async poll(): Promise<FileTail[]> {
    if (this.#fd === null) {
      if (!(await this.#open())) return [];
    }
    const away: FileTail[] = [];
    let current: Stats | null = null;
    try {
      current = await statP(this.path);
    } catch {
      current = null; // renamed or deleted: keep reading the old file until a new one appears
    }
    const st = await fstatP(this.#fd!);
    if (st.size < this.#offset || !this.#stillHolds()) {
      // copytruncate: the file was copied away and emptied (and perhaps refilled past where
      // reading stopped: the bytes before the read offset are not the ones read there). What was written after the last read
      // is only in the copy: finish that from the same offset, then read this one from its start.
      const copy = this.#findCopy();
      if (copy && !(await copy.drainRetired())) away.push(copy);
      this.#offset = 0;
      this.#recentLen = 0;
      this.#splitter.reset();
      this.#source = this.#ctx.events.source(this.path);
      this.#ctx.events.rotated(this.path, 'truncated');
    }
    this.#size = st.size;
    await this.#readToEnd();
    if (!current) {
      // Gone from its path: let go after the grace period, so a deleted file's space is freed.
      const now = this.#ctx.now();
      this.#missingSince ??= now;
      if (now - this.#missingSince >= ROTATION_GRACE_MS) {
        await this.close();
        this.#startAt = 'beginning';
        this.problem = `${this.path} does not exist yet (waiting for it)`;
      }
      return away;
    }
    this.#missingSince = null;
    if (current.ino === this.#ino && current.dev === this.#dev) return away;
    // A new file at the path (rename + create, or delete + recreate). The old one is retired:
    // drained for a while longer, since a writer may not have reopened yet.
    away.push(this.#retire());
    this.#ctx.events.rotated(this.path, 'replaced');
    this.#startAt = 'beginning';
    if (await this.#open()) await this.#readToEnd();
    return away;
  }

  /**
   * After a copytruncate: the copy beside this file (another inode, at least as long as what was
   * read, holding the last bytes read at the same place), resumed after the last whole line.
   */
  #findCopy(): FileTail | null {
    const n = this.#recentLen;
    if (n === 0 || this.#recent === null) return null;
    const dir = dirname(this.path);
    this.#probe ??= Buffer.allocUnsafe(CHECK_BYTES);
    const probe = this.#probe.subarray(0, n);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return null;
    }
    for (const name of names) {
      const path = join(dir, name);
      try {
        const st = statSync(path);
        if (!st.isFile() || (st.dev === this.#dev && st.ino === this.#ino) || st.size < this.#offset)
          continue;
        const fd = openSync(path, 'r');
        try {
          if (readSync(fd, probe, 0, n, this.#offset - n) !== n || !probe.equals(this.#recent.subarray(0, n)))
            continue;
        } finally {
          closeSync(fd);
        }
        const offset = this.#offset - this.#splitter.pending;
        return FileTail.resumeRotated(path, { dev: st.dev, ino: st.ino, offset }, this.#ctx);
      } catch {
        // Gone or unreadable meanwhile: not the copy.
      }
    }
    return null;
  }

  /** For a retired tail: reads what the writer still added; true once quiet for the grace period. */
  async drainRetired(): Promise<boolean> {
    if (this.#resuming) {
      this.#resuming = false;
      if (!(await this.#open(true))) return true;
    }
    if (this.#fd === null) return true;
    const before = this.#offset;
    await this.#readToEnd();
    const now = this.#ctx.now();
    if (this.#offset !== before) this.#lastGrowth = now;
    if (now - this.#lastGrowth < ROTATION_GRACE_MS) return false;
    await this.close();
    return true;
  }

  get retired(): boolean {
    return this.#retired;
  }

  /** Stops following; a partial last line is dropped (its bytes stay unread in the positions). */
  async close(): Promise<void> {
    const fd = this.#fd;
    const p = this.position;
    if (p) {
      const done = this.#ctx.done;
      done.set(`${p.dev}:${p.ino}`, p);
      if (done.size > 1000) done.delete(done.keys().next().value!);
    }
    this.#fd = null;
    this.#splitter.reset();
    if (fd !== null) await closeP(fd);
  }

  /** Hands the open file (and its partial line) to a new retired tail; this one is left closed. */
  #retire(): FileTail {
    const r = new FileTail(this.path, 'beginning', this.#ctx, true);
    r.#fd = this.#fd;
    r.#dev = this.#dev;
    r.#ino = this.#ino;
    r.#offset = this.#offset;
    r.#size = this.#size;
    r.#splitter = this.#splitter;
    r.#source = this.#source;
    r.#lastGrowth = this.#ctx.now();
    this.#fd = null;
    this.#splitter = new LineSplitter(this.#ctx.maxLine);
    this.#source = this.#ctx.events.source(this.path);
    return r;
  }

  /** `exact`: open only the file the start position names (device + inode), at its offset. */
  async #open(exact = false): Promise<boolean> {
    let fd: number;
    try {
      const st = await statP(this.path);
      if (!st.isFile()) {
        this.#startAt = 'beginning';
        this.#fail(`${this.path} is not a regular file`);
        return false;
      }
      fd = await openP(this.path, 'r');
    } catch (err) {
      // Not there (or not readable) at start-up: once it is, all of it is new.
      this.#startAt = typeof this.#startAt === 'object' ? this.#startAt : 'beginning';
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') this.problem = `${this.path} does not exist yet (waiting for it)`;
      else if (e.code === 'EACCES' || e.code === 'EPERM')
        this.#fail(
          `cannot read ${this.path}: permission denied (the adapter runs as uid ${process.getuid?.()})`,
        );
      else this.#fail(`cannot open ${this.path}: ${e.message}`);
      return false;
    }
    const st = await fstatP(fd);
    const at = this.#startAt;
    if (exact && (typeof at !== 'object' || at.dev !== st.dev || at.ino !== st.ino || at.offset > st.size)) {
      await closeP(fd);
      return false;
    }
    this.#fd = fd;
    this.#dev = st.dev;
    this.#ino = st.ino;
    this.#size = st.size;
    this.#missingSince = null;
    this.problem = null;
    this.#recentLen = 0;
    if (at === 'beginning') this.#offset = 0;
    else if (at === 'end') this.#offset = st.size;
    else this.#offset = at.dev === st.dev && at.ino === st.ino && at.offset <= st.size ? at.offset : 0;
    // Whatever happens next to this path is a new file, read from its first byte.
    this.#startAt = 'beginning';
    return true;
  }

  #fail(message: string): void {
    if (this.problem !== message) this.#ctx.events.error(this.path, message);
    this.problem = message;
  }

  async #readToEnd(): Promise<void> {
    const fd = this.#fd!;
    const buf = this.#ctx.buf;
    for (;;) {
      const { bytesRead: n } = await readP(fd, buf, 0, buf.length, this.#offset);
      if (n === 0) break;
      this.#offset += n;
      if (this.#offset > this.#size) this.#size = this.#offset;
      this.#ctx.events.bytes(n);
      this.#remember(buf, n);
      this.#splitter.push(buf, n, this.#source);
    }
  }

  /** Whether the file still holds the last bytes read where they were read. */
  #stillHolds(): boolean {
    const n = this.#recentLen;
    if (n === 0) return true;
    this.#probe ??= Buffer.allocUnsafe(CHECK_BYTES);
    const got = readSync(this.#fd!, this.#probe, 0, n, this.#offset - n);
    return got === n && this.#probe.compare(this.#recent!, 0, n, 0, n) === 0;
  }

  /** Keeps the last CHECK_BYTES bytes read, ending at the read offset. */
  #remember(buf: Buffer, n: number): void {
    this.#recent ??= Buffer.allocUnsafe(CHECK_BYTES);
    const r = this.#recent;
    if (n >= CHECK_BYTES) {
      buf.copy(r, 0, n - CHECK_BYTES, n);
      this.#recentLen = CHECK_BYTES;
      return;
    }
    const keep = Math.min(this.#recentLen, CHECK_BYTES - n);
    r.copy(r, 0, this.#recentLen - keep, this.#recentLen);
    buf.copy(r, keep, 0, n);
    this.#recentLen = keep + n;
  }
}
