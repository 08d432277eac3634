// What the access log reports as the body bytes sent (nginx's $body_bytes_sent): the declared length
// when a response finished, else what the kernel had accepted when the connection was closed.
//
// Node tells when a write completes, not how far a write in progress got; libuv does
// (`writeQueueSize`, the bytes of the write in progress still to go). So a connection web closes
// itself (the idle timeout on a client that stopped reading, a file cut short) is measured just
// before it is closed. One the client closes mid-body is counted up to the last completed write
// when streamed from disk, and whole when sent from memory (one write, progress unknown).
import type { ServerResponse } from 'node:http';

/** Declared body length (0 for HEAD and bodiless answers). */
export const BODY_BYTES = Symbol('bodyBytes');
/** A streamed body's progress: bytes of completed writes, and the lengths of writes not yet done. */
export const STREAM = Symbol('stream');
/** Body bytes the kernel had accepted when web closed the connection. */
const SENT_AT_CLOSE = Symbol('sentAtClose');

export interface StreamProgress {
  acked: number;
  pending: number[];
}

export type CountedResponse = ServerResponse & {
  [BODY_BYTES]?: number;
  [STREAM]?: StreamProgress;
  [SENT_AT_CLOSE]?: number;
};

/** Call just before web destroys a connection whose response has not finished. */
export function noteSentBeforeClosing(res: CountedResponse): void {
  const queued = (res.socket as { _handle?: { writeQueueSize?: unknown } } | null)?._handle?.writeQueueSize;
  if (typeof queued !== 'number' || !res.headersSent) return;
  const stream = res[STREAM];
  // Writes go out one at a time, in order: the one in progress is the oldest not yet done.
  res[SENT_AT_CLOSE] = stream
    ? stream.acked + Math.max(0, (stream.pending[0] ?? 0) - queued)
    : Math.max(0, (res[BODY_BYTES] ?? 0) - queued);
}

export function bodyBytesSent(res: CountedResponse): number {
  if (!res.headersSent) return 0;
  const declared = res[BODY_BYTES] ?? 0;
  // Measured when web closed the connection on an unfinished response: that stands, even though
  // Node 22 then marks the response finished (Node 24 does not).
  const atClose = res[SENT_AT_CLOSE];
  if (atClose !== undefined) return Math.min(atClose, declared);
  if (res.writableFinished) return declared;
  const stream = res[STREAM];
  return stream ? stream.acked : declared;
}
