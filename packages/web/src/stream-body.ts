// Streams a byte range of an open file into a response, for files too large for the cache.
//
// - Back-pressure: one chunk is read, written, and the next read waits until the response has
//   drained, so a client that stops reading holds one chunk of memory, its socket's kernel buffer
//   and nothing else; the idle timeout (WEB_IDLE_TIMEOUT, nginx's send_timeout) then closes it.
// - Fairness: at most READS_IN_FLIGHT file reads run at once, across all connections, first come
//   first served. Without the limit, hundreds of clients that ask for a large file and never read
//   queue hundreds of reads on libuv's four threads while their kernel buffers fill, and every
//   other request's lookup (stat, open, realpath on the same threads) waits behind them.
// - Honesty: the response keeps count of its writes for the access log (body-bytes.ts). A file that
//   ends before its Content-Length (truncated while sent) or fails to read destroys the connection
//   at once, as nginx does: the response cannot be completed, and a keep-alive client must never
//   read the next response as the rest of this body.
import { close, read } from 'node:fs';
import { type CountedResponse, noteSentBeforeClosing, STREAM, type StreamProgress } from './body-bytes.ts';

/** Bytes read and written at a time (the same as a file ReadStream's). */
const CHUNK = 64 * 1024;

/** Concurrent file reads for bodies; the rest of libuv's thread pool stays free for lookups. */
const READS_IN_FLIGHT = 2;

let inFlight = 0;
const waiting: (() => void)[] = [];

/**
 * Chunks whose writes are done, for the next reads: hundreds of streams would otherwise allocate a
 * fresh 64 KiB per read and keep the garbage collector busy with gigabytes of them.
 */
const spare: Buffer[] = [];
const MAX_SPARE = 64;

function withReadSlot(fn: () => void): void {
  if (inFlight < READS_IN_FLIGHT) {
    inFlight++;
    fn();
  } else waiting.push(fn);
}

function releaseReadSlot(): void {
  const next = waiting.shift();
  if (next) next();
  else inFlight--;
}

/** Why a body stopped short, for the error log. */
export interface ShortBody {
  /** Offset in the file where it stopped. */
  at: number;
  /** Offset one past the last byte the response promised. */
  end: number;
  err?: NodeJS.ErrnoException;
}

/**
 * Sends bytes `start`..`end` (inclusive) of `fd` as the body of `res`, whose headers are written.
 * Closes `fd` on every path; calls `onShort` (then destroys the connection) if the file cannot
 * supply them all.
 */
export function streamFile(
  res: CountedResponse,
  fd: number,
  start: number,
  end: number,
  onShort: (s: ShortBody) => void,
): void {
  let pos = start;
  let open = true;
  const progress: StreamProgress = { acked: 0, pending: [] };
  res[STREAM] = progress;
  const release = () => {
    if (!open) return;
    open = false;
    close(fd, () => {});
  };
  res.once('close', release);
  const writing: Buffer[] = [];
  const done = (err?: Error | null) => {
    const n = progress.pending.shift() ?? 0;
    const chunk = writing.shift();
    if (err) return;
    progress.acked += n;
    // The socket has let go of a chunk once its write is done (not after an error).
    if (chunk && spare.length < MAX_SPARE) spare.push(chunk);
  };
  const next = (): void =>
    withReadSlot(() => {
      if (res.destroyed) {
        releaseReadSlot();
        return release();
      }
      const want = Math.min(CHUNK, end + 1 - pos);
      const buf = spare.pop() ?? Buffer.allocUnsafe(CHUNK);
      read(fd, buf, 0, want, pos, (err, n) => {
        releaseReadSlot();
        if (res.destroyed) return release();
        if (err || n === 0) {
          onShort(err ? { at: pos, end: end + 1, err } : { at: pos, end: end + 1 });
          noteSentBeforeClosing(res);
          res.destroy();
          return release();
        }
        pos += n;
        progress.pending.push(n);
        writing.push(buf);
        const more = res.write(n === buf.length ? buf : buf.subarray(0, n), done);
        if (pos > end) {
          res.end();
          return release();
        }
        if (more) next();
        else res.once('drain', next);
      });
    });
  next();
}
