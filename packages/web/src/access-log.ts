// The access log: one line per request in nginx `combined` plus $request_time (or JSON), written
// in batches off the request path. Reopens on SIGHUP and when the file is renamed away or
// truncated; rotates itself by size (access.log → access.log.1 …); close() flushes every line.
// Whole lines or none: a write cut short by a full disk has its torn tail cut off the file, and
// the lines not written are held (up to 16 MiB) and retried every second; past that, new lines
// are dropped and counted. Problems are logged at once, then at most every 10 s while they last.
import {
  closeSync,
  fstatSync,
  ftruncateSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  write,
  writeSync,
} from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type AccessLogFormat, LineFormatter, type Rejected } from './access-log-format.ts';
import { bodyBytesSent } from './body-bytes.ts';

export type { AccessLogFormat, Rejected };

export interface AccessLogOptions {
  /** A file path, `-` for stdout, or `off`. */
  destination: string;
  format: AccessLogFormat;
  /** Rotate when the file would pass this many bytes; 0 = never. */
  maxSize: number;
  /** Rotated files kept. */
  keep: number;
  /** How often to check whether the file was renamed away or truncated. */
  checkIntervalMs?: number;
  /** Problems writing the log (it keeps going; lines are dropped only if the disk stays stuck). */
  onError?: (message: string, err?: unknown) => void;
  /** The log writes again after a problem. */
  onInfo?: (message: string) => void;
  /** Bytes of lines held while the destination cannot take them (default 16 MiB); tests lower it. */
  maxPendingBytes?: number;
  /** Injected clock (ms since epoch) for tests. */
  now?: () => number;
}

/** Lines are written in batches of this size, or after FLUSH_MS, whichever comes first. */
const BATCH_BYTES = 64 * 1024;
const FLUSH_MS = 100;

/** Lines held in memory while a write is in flight; past this (a stuck disk) new lines are dropped. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;

/** After a failed write, the next attempt waits this long. */
const RETRY_MS = 1000;

/** While a problem lasts, it is logged at most this often (nginx: once a second; a full disk lasts). */
const REPORT_EVERY_MS = 10_000;

const NEWLINE = 0x0a;

/** Lines in a chunk of newline-terminated lines. */
function linesIn(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(NEWLINE); i !== -1; i = buf.indexOf(NEWLINE, i + 1)) n++;
  return n;
}

/**
 * The whole response is in the kernel's hands: ended, and nothing queued in Node. A cache hit
 * usually is, as soon as it is answered; Node 24 only calls it finished a tick later (and
 * `writableFinished` then). nginx logs at that same point (after the last bytes were sent).
 */
function handedOver(res: ServerResponse): boolean {
  // `outputSize` is documented (http.OutgoingMessage) but missing from @types/node.
  return (
    res.writableEnded &&
    (res as ServerResponse & { outputSize: number }).outputSize === 0 &&
    res.socket !== null &&
    res.socket.writableLength === 0
  );
}

export class AccessLog {
  readonly #opts: AccessLogOptions;
  readonly #now: () => number;
  #fd = -1;
  #size = 0;
  #pending: string[] = [];
  #pendingBytes = 0;
  #writing = false;
  #scheduled = false;
  /** The flush time of waiting lines passed while a write was in flight. */
  #due = false;
  #flushTimer: NodeJS.Timeout | undefined;
  #reopenWanted = false;
  #closed = false;
  #dropped = 0;
  #timer: NodeJS.Timeout | undefined;
  #idle: (() => void)[] = [];
  readonly #maxPending: number;
  readonly #lines: LineFormatter;
  /** Whole lines a failed write did not get into the file; they go first next time. */
  #retry: Buffer | null = null;
  #retryTimer: NodeJS.Timeout | undefined;
  /** When the current problem began (null: none), and when it was last reported. */
  #troubleSince: number | null = null;
  #lastReport = Number.NEGATIVE_INFINITY;
  #droppedBefore = 0;

  constructor(opts: AccessLogOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#maxPending = opts.maxPendingBytes ?? MAX_PENDING_BYTES;
    this.#lines = new LineFormatter(opts.format, this.#now);
    if (this.#toFile) {
      this.#open();
      this.#timer = setInterval(() => this.#check(), opts.checkIntervalMs ?? 1000);
      this.#timer.unref();
    }
  }

  get #toFile(): boolean {
    return this.#opts.destination !== '-' && this.#opts.destination !== 'off';
  }

  get enabled(): boolean {
    return this.#opts.destination !== 'off';
  }

  /** Lines dropped because the destination could not take them (full, unwritable, too slow). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Lines waiting to be written. */
  get held(): number {
    return this.#pending.length + (this.#retry ? linesIn(this.#retry) : 0);
  }

  /**
   * Logs a request once its response is done (or aborted). Call with the time it arrived
   * (`performance.now()`), before or after answering it: a response already handed to the kernel
   * whole (a cache hit) is logged at once, without a listener.
   */
  track(req: IncomingMessage, res: ServerResponse, start: number): void {
    if (!this.enabled) return;
    if (res.writableFinished || handedOver(res)) this.#done(req, res, start);
    else {
      // Read the peer address now: once the connection is gone, Node cannot tell it any more.
      void req.socket.remoteAddress;
      res.once('close', () => this.#done(req, res, start));
    }
  }

  #done(req: IncomingMessage, res: ServerResponse, start: number): void {
    // A pipelined request queued behind one whose connection then closed never reached the wire
    // (no socket was ever its own); nginx would not even have read it. Not a request to log.
    if (!res.writableFinished && res.socket === null) return;
    const seconds = (performance.now() - start) / 1000;
    // nginx logs 499 when the client closed before an answer was sent.
    const status = res.headersSent ? res.statusCode : 499;
    const bytes = bodyBytesSent(res);
    this.write(this.#lines.request(req, status, bytes, seconds));
  }

  /** Logs a request refused before routing had a request and response (see Rejected). */
  rejected(socket: Socket, r: Rejected): void {
    if (this.enabled) this.write(this.#lines.rejected(socket, r));
  }

  /** Queues one line (newline added). Never blocks. */
  write(line: string): void {
    if (this.#closed || !this.enabled) return;
    if (this.#pendingBytes + (this.#retry?.length ?? 0) > this.#maxPending) {
      this.#dropped++;
      // A disk that fails is reported by #trouble; one that is only too slow, here.
      if (this.#troubleSince === null && this.#now() - this.#lastReport >= REPORT_EVERY_MS) {
        this.#lastReport = this.#now();
        this.#opts.onError?.(
          `access log: ${this.#dropped} lines dropped so far: ${this.#opts.destination} does not keep up`,
        );
      }
      return;
    }
    this.#pending.push(line);
    this.#pendingBytes += line.length + 1;
    this.#schedule();
  }

  /**
   * Like nginx's `access_log … buffer=64k flush=…`: one write per 64 KiB, or FLUSH_MS after the
   * oldest line waiting, never one per line. Called when lines are queued and when a write ends.
   */
  #schedule(): void {
    if (this.#pendingBytes >= BATCH_BYTES) {
      if (this.#flushTimer) clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    } else if (this.#pending.length && !this.#flushTimer && !this.#scheduled) {
      this.#flushTimer = setTimeout(() => {
        this.#flushTimer = undefined;
        // Lines are due now; a write in flight writes them as soon as it ends.
        if (this.#writing) this.#due = true;
        else this.#flush();
      }, FLUSH_MS);
    }
  }

  /** SIGHUP: reopen the file by name (after an external logrotate). */
  reopen(): void {
    if (!this.#toFile) return;
    this.#reopenWanted = true;
    this.#flush();
  }

  /** Writes every queued line and closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    while (this.#writing) await new Promise<void>((r) => this.#idle.push(r));
    this.#closed = true;
    if (!this.#toFile) process.stdout.write(this.#take(Number.POSITIVE_INFINITY));
    else {
      let chunk = this.#retry ?? this.#nextChunk();
      this.#retry = null;
      for (; chunk; chunk = this.#nextChunk()) this.#writeNow(chunk);
    }
    if (this.#fd !== -1) closeSync(this.#fd);
    this.#fd = -1;
    if (this.#dropped)
      this.#opts.onError?.(
        `access log: ${this.#dropped} lines dropped in all (${this.#opts.destination} full, unwritable or too slow)`,
      );
  }

  /** At shutdown: writes a chunk synchronously, whole lines or none; counts what it cannot write. */
  #writeNow(chunk: Buffer): void {
    if (this.#fd === -1) {
      this.#dropped += linesIn(chunk);
      return;
    }
    let written = 0;
    try {
      while (written < chunk.length) {
        const n = writeSync(this.#fd, chunk, written, chunk.length - written);
        if (n === 0) throw new Error('the write made no progress');
        written += n;
      }
      this.#size += chunk.length;
    } catch (err) {
      const whole = this.#keepWhole(this.#fd, chunk, written);
      this.#dropped += linesIn(chunk.subarray(whole));
      this.#trouble(`writing ${this.#opts.destination} failed`, err);
    }
  }

  /**
   * After a write that got `written` bytes of `chunk` into the file and then failed: cuts the torn
   * last line off the file, so the next line starts on a line of its own. Returns the bytes kept.
   */
  #keepWhole(fd: number, chunk: Buffer, written: number): number {
    const whole = written === 0 ? 0 : chunk.lastIndexOf(NEWLINE, written - 1) + 1;
    if (written > whole) {
      try {
        ftruncateSync(fd, fstatSync(fd).size - (written - whole));
      } catch (err) {
        this.#opts.onError?.(`access log: cannot cut a torn line off ${this.#opts.destination}`, err);
      }
    }
    this.#size += whole;
    return whole;
  }

  /** Something failed: logged at once, then at most every REPORT_EVERY_MS while it lasts. */
  #trouble(what: string, err: unknown): void {
    const now = this.#now();
    if (this.#troubleSince === null) {
      this.#troubleSince = now;
      this.#droppedBefore = this.#dropped;
    } else if (now - this.#lastReport < REPORT_EVERY_MS) return;
    this.#lastReport = now;
    this.#opts.onError?.(
      `access log: ${what}; ${this.held} lines held (retried every second), ${this.#dropped} dropped so far`,
      err,
    );
  }

  /** A write went through: ends a problem, if one was going on. */
  #fine(): void {
    if (this.#troubleSince === null) return;
    const seconds = Math.round((this.#now() - this.#troubleSince) / 1000);
    const lost = this.#dropped - this.#droppedBefore;
    this.#troubleSince = null;
    this.#opts.onInfo?.(
      `access log: writing ${this.#opts.destination} again after ${seconds}s; ${lost} lines dropped meanwhile`,
    );
  }

  /** Takes queued lines up to `room` bytes (always at least one line), newline-terminated. */
  #take(room: number): string {
    if (this.#pending.length === 0) return '';
    let n = 0;
    let bytes = 0;
    if (room === Number.POSITIVE_INFINITY) n = this.#pending.length;
    else
      while (n < this.#pending.length) {
        const b = Buffer.byteLength(this.#pending[n]!) + 1;
        if (n > 0 && bytes + b > room) break;
        bytes += b;
        n++;
      }
    const taken = n === this.#pending.length ? this.#pending : this.#pending.slice(0, n);
    this.#pending = n === this.#pending.length ? [] : this.#pending.slice(n);
    this.#pendingBytes = this.#pending.reduce((t, l) => t + l.length + 1, 0);
    return `${taken.join('\n')}\n`;
  }

  /**
   * The next bytes for the file: rotates first when the next line would push the file past
   * WEB_ACCESS_LOG_MAX_SIZE, and takes no more than fits, so rotation happens on the line.
   */
  #nextChunk(): Buffer | null {
    if (this.#pending.length === 0) return null;
    const { maxSize } = this.#opts;
    if (maxSize <= 0) return Buffer.from(this.#take(Number.POSITIVE_INFINITY));
    const first = Buffer.byteLength(this.#pending[0]!) + 1;
    if (this.#size > 0 && this.#size + first > maxSize) this.#rotate();
    return Buffer.from(this.#take(Math.max(maxSize - this.#size, 1)));
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#writing) return; // its end looks again (see done below)
    this.#due = false;
    if (this.#closed || this.#retryTimer) return;
    if (this.#reopenWanted) {
      this.#reopenWanted = false;
      this.#reopenNow();
    }
    if (!this.#toFile) {
      if (this.#pending.length) process.stdout.write(this.#take(Number.POSITIVE_INFINITY));
      return;
    }
    // No file (it could not be opened): lines wait; the check timer reopens it every second.
    if (this.#fd === -1) return;
    const buf = this.#retry ?? this.#nextChunk();
    this.#retry = null;
    if (!buf) return;
    this.#writing = true;
    const fd = this.#fd;
    let written = 0;
    const done = (err: NodeJS.ErrnoException | null, n: number) => {
      if (!err && n === 0) err = new Error('the write made no progress');
      if (!err) {
        written += n;
        if (written < buf.length) return write(fd, buf, written, buf.length - written, null, done);
        this.#size += buf.length;
        this.#fine();
      } else {
        // Full disk (or worse): keep the whole lines written, hold the rest, try again later.
        const whole = this.#keepWhole(fd, buf, written);
        this.#retry = whole < buf.length ? buf.subarray(whole) : null;
        this.#trouble(`writing ${this.#opts.destination} failed`, err);
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = undefined;
          this.#flush();
        }, RETRY_MS);
        this.#retryTimer.unref();
      }
      this.#writing = false;
      for (const r of this.#idle.splice(0)) r();
      // What was queued meanwhile waits for a full batch or its flush time, as before the write:
      // writing it at once would turn a busy server's log into one small write per request.
      if (this.#retryTimer) return;
      if (this.#due || this.#reopenWanted) this.#flush();
      else this.#schedule();
    };
    write(fd, buf, 0, buf.length, null, done);
  }

  #open(): void {
    const path = this.#opts.destination;
    try {
      this.#fd = openSync(path, 'a', 0o644);
      this.#size = fstatSync(this.#fd).size;
    } catch (err) {
      this.#fd = -1;
      this.#trouble(`cannot open ${path}`, err);
    }
  }

  #reopenNow(): void {
    if (this.#fd !== -1) closeSync(this.#fd);
    this.#fd = -1;
    this.#open();
  }

  /** access.log → access.log.1 → … → access.log.<keep>, then a fresh access.log. */
  #rotate(): void {
    const { keep, destination } = this.#opts;
    try {
      rmSync(`${destination}.${keep}`, { force: true });
      for (let i = keep - 1; i >= 1; i--) {
        try {
          renameSync(`${destination}.${i}`, `${destination}.${i + 1}`);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
      renameSync(destination, `${destination}.1`);
    } catch (err) {
      this.#opts.onError?.(`access log: rotating ${destination} failed`, err);
    }
    this.#reopenNow();
  }

  /** Reopens when the file was renamed away or deleted; notices truncation (copytruncate). */
  #check(): void {
    if (this.#closed || this.#fd === -1) {
      if (!this.#closed) this.reopen();
      return;
    }
    let byName: ReturnType<typeof statSync> | undefined;
    try {
      byName = statSync(this.#opts.destination, { throwIfNoEntry: false });
    } catch {
      byName = undefined;
    }
    const mine = fstatSync(this.#fd);
    if (!byName || byName.ino !== mine.ino || byName.dev !== mine.dev) this.reopen();
    else if (mine.size < this.#size) this.#size = mine.size;
  }
}
