// Follows one path: reads new bytes into a reused buffer and hands them to a line splitter.
// Notices the three rotations (rename + create, delete + recreate: a new inode at the path;
// copytruncate: the file shrank) and drains the old file before switching, so no line is lost.
import { close, fstat, open, read, type Stats, stat } from 'node:fs';
import { promisify } from 'node:util';
import { type LineSink, LineSplitter } from './line-splitter.ts';
import type { Position } from './positions.ts';

const openP = promisify(open);
const closeP = promisify(close);
const statP = promisify(stat);
const fstatP = promisify(fstat);
const readP = promisify(read);

export type RotationReason = 'replaced' | 'truncated';

export interface TailEvents {
  /** Lines (and over-long lines) of this file. */
  sink: LineSink;
  bytes(n: number): void;
  rotated(path: string, reason: RotationReason): void;
  /** The file cannot be opened or read (permission denied, not a regular file…). */
  error(path: string, message: string): void;
}

export type StartAt = 'beginning' | 'end' | Position;

export class FileTail {
  readonly path: string;
  #fd: number | null = null;
  #dev = 0;
  #ino = 0;
  #offset = 0;
  #size = 0;
  /** Why the file cannot be read right now, for /readyz. */
  problem: string | null = null;
  readonly #buf: Buffer;
  readonly #splitter: LineSplitter;
  readonly #events: TailEvents;
  #startAt: StartAt;
  #missing = false;

  readonly #done: Map<string, Position>;

  /** `done` remembers where reading stopped in files let go of, so a renamed one is not read twice. */
  constructor(
    path: string,
    startAt: StartAt,
    buf: Buffer,
    maxLine: number,
    events: TailEvents,
    done: Map<string, Position>,
  ) {
    this.path = path;
    this.#done = done;
    this.#startAt = startAt;
    this.#buf = buf;
    this.#splitter = new LineSplitter(maxLine);
    this.#events = events;
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

  /** Bytes in the file not read yet (as of the last look). */
  get lag(): number {
    return Math.max(0, this.#size - this.#offset);
  }

  /** Looks at the path, follows any rotation, and reads to the end. */
  async poll(): Promise<void> {
    if (this.#fd === null) {
      if (!(await this.#open())) return;
    }
    let current: Stats | null = null;
    try {
      current = await statP(this.path);
    } catch {
      current = null; // renamed or deleted: keep reading the old file until a new one appears
    }
    const st = await fstatP(this.#fd!);
    if (st.size < this.#offset) {
      // copytruncate: the file was copied away and emptied; start again from its beginning.
      this.#offset = 0;
      this.#splitter.reset();
      this.#events.rotated(this.path, 'truncated');
    }
    this.#size = st.size;
    await this.#readToEnd();
    if (!current) {
      // Gone from its path for a second look in a row: let go, so a deleted file's space is freed.
      if (this.#missing) {
        await this.close();
        this.#startAt = 'beginning';
        this.problem = `${this.path} does not exist yet (waiting for it)`;
      }
      this.#missing = true;
      return;
    }
    this.#missing = false;
    if (current && (current.ino !== this.#ino || current.dev !== this.#dev)) {
      // A new file at the path (rename + create, or delete + recreate): the old one is drained.
      await this.close();
      this.#startAt = 'beginning';
      this.#events.rotated(this.path, 'replaced');
      if (await this.#open()) await this.#readToEnd();
    }
  }

  /** Stops following; a partial last line is dropped (its bytes stay unread in the positions). */
  async close(): Promise<void> {
    const fd = this.#fd;
    const p = this.position;
    if (p) {
      this.#done.set(`${p.dev}:${p.ino}`, p);
      if (this.#done.size > 1000) this.#done.delete(this.#done.keys().next().value!);
    }
    this.#fd = null;
    this.#splitter.reset();
    if (fd !== null) await closeP(fd);
  }

  async #open(): Promise<boolean> {
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
    this.#fd = fd;
    this.#dev = st.dev;
    this.#ino = st.ino;
    this.#size = st.size;
    this.problem = null;
    const at = this.#startAt;
    if (at === 'beginning') this.#offset = 0;
    else if (at === 'end') this.#offset = st.size;
    else this.#offset = at.dev === st.dev && at.ino === st.ino && at.offset <= st.size ? at.offset : 0;
    // Whatever happens next to this path is a new file, read from its first byte.
    this.#startAt = 'beginning';
    return true;
  }

  #fail(message: string): void {
    if (this.problem !== message) this.#events.error(this.path, message);
    this.problem = message;
  }

  async #readToEnd(): Promise<void> {
    const fd = this.#fd!;
    const buf = this.#buf;
    for (;;) {
      const { bytesRead: n } = await readP(fd, buf, 0, buf.length, this.#offset);
      if (n === 0) break;
      this.#offset += n;
      if (this.#offset > this.#size) this.#size = this.#offset;
      this.#events.bytes(n);
      this.#splitter.push(buf, n, this.#events.sink);
    }
  }
}
