// The access log: one JSON line per request or TCP connection on stdout, in the same shape as the
// component log. Lines are built directly (fixed fields, no logger machinery) and written in
// batches off the hot path; a line waits at most a second, and the batch is flushed at shutdown.
import { write as fsWrite, writeSync } from 'node:fs';

export interface AccessEntry {
  listener: string;
  route?: string;
  method?: string;
  path?: string;
  upstream: string;
  status: number | string;
  /** Response bytes (HTTP), or bytes to the client (TCP). */
  bytes: number;
  /** TCP only: bytes from the client. */
  bytesIn?: number;
  durationMs: number;
  retries: number;
  /** HTTP: the request's X-Request-Id, as received or generated. */
  requestId?: string;
  /** gRPC calls: the status the call ended with. */
  grpcStatus?: number;
  error?: string;
}

export interface AccessLog {
  write(entry: AccessEntry): void;
  flush(): void;
  /** Lines dropped because stdout could not keep up (bounded memory). */
  readonly dropped: number;
}

const str = JSON.stringify;

/** One line, e.g. {"level":"info","time":"…","component":"ambassador","log":"access","listener":"web",…} */
export function formatAccess(e: AccessEntry, time: string): string {
  let line = `{"level":"info","time":"${time}","component":"ambassador","log":"access","listener":${str(e.listener)}`;
  if (e.route !== undefined) line += `,"route":${str(e.route)}`;
  if (e.method !== undefined) line += `,"method":${str(e.method)}`;
  if (e.path !== undefined) line += `,"path":${str(e.path)}`;
  line += `,"upstream":${str(e.upstream)},"status":${str(e.status)},"bytes":${e.bytes}`;
  if (e.bytesIn !== undefined) line += `,"bytesIn":${e.bytesIn}`;
  line += `,"durationMs":${e.durationMs},"retries":${e.retries}`;
  if (e.requestId !== undefined) line += `,"requestId":${str(e.requestId)}`;
  if (e.grpcStatus !== undefined) line += `,"grpcStatus":${e.grpcStatus}`;
  if (e.error !== undefined) line += `,"error":${str(e.error)}`;
  return `${line}}\n`;
}

/** Lines wait in the batch at most this long: `kubectl logs` shows a request within a second. */
export const FLUSH_AFTER_MS = 1000;
/** A batch is written once it holds this much (nginx's `buffer=`), or after FLUSH_AFTER_MS. */
const BATCH_BYTES = 16 * 1024;
/** Lines waiting while stdout cannot keep up; past it new lines are dropped, and counted. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;

/** Where batches go: stdout's file descriptor, or a stream (tests). */
export interface Sink {
  write(data: Buffer, done: (err: NodeJS.ErrnoException | null, written: number) => void): void;
  writeSync(data: Buffer): void;
}

export function fdSink(fd: number): Sink {
  return {
    write: (data, done) => fsWrite(fd, data, 0, data.length, null, (err, written) => done(err, written)),
    writeSync: (data) => {
      for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
    },
  };
}

function streamSink(stream: NodeJS.WritableStream): Sink {
  return {
    write: (data, done) => void stream.write(data, (err) => done(err ?? null, err ? 0 : data.length)),
    writeSync: (data) => void stream.write(data),
  };
}

/**
 * The access log on stdout (or `dest`): lines are gathered in a string — about 0.3 µs a line —
 * and written in batches of 16 KiB, or a second after the first line of a batch, one write at a
 * time; at shutdown what is left is written synchronously. (A general-purpose async destination
 * cost about 3 µs a line here, a tenth of a proxied request.) Losing stdout (EPIPE) loses log
 * lines, never the traffic.
 */
export function createAccessLog(
  dest?: NodeJS.WritableStream | Sink,
  flushAfterMs = FLUSH_AFTER_MS,
): AccessLog {
  const sink: Sink = dest === undefined ? fdSink(1) : 'writeSync' in dest ? dest : streamSink(dest);
  let pending = '';
  let writing = false;
  let dropped = 0;
  let timer: NodeJS.Timeout | undefined;
  // One timestamp string per millisecond, however many lines share it.
  let lastMs = 0;
  let lastIso = '';

  const schedule = () => {
    if (timer !== undefined || pending === '') return;
    timer = setTimeout(drain, flushAfterMs);
    timer.unref();
  };
  const send = (data: Buffer) => {
    writing = true;
    sink.write(data, (err, written) => {
      if (err?.code === 'EAGAIN') return void setTimeout(() => send(data), 10).unref();
      if (!err && written < data.length) return send(data.subarray(written));
      writing = false;
      if (pending.length >= BATCH_BYTES) drain();
      else schedule();
    });
  };
  function drain(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (writing || pending === '') return;
    const text = pending;
    pending = '';
    send(Buffer.from(text));
  }

  return {
    write: (entry) => {
      const ms = Date.now();
      if (ms !== lastMs) {
        lastMs = ms;
        lastIso = new Date(ms).toISOString();
      }
      if (pending.length > MAX_PENDING_BYTES) {
        dropped++;
        return;
      }
      pending += formatAccess(entry, lastIso);
      if (pending.length >= BATCH_BYTES && !writing) drain();
      else schedule();
    },
    flush: () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      if (pending === '') return;
      const text = pending;
      pending = '';
      try {
        sink.writeSync(Buffer.from(text));
      } catch {
        // stdout gone: nothing more to do at shutdown.
      }
    },
    get dropped() {
      return dropped;
    },
  };
}

export const noAccessLog: AccessLog = { write() {}, flush() {}, dropped: 0 };
