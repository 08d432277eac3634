// The access log: one JSON line per request or TCP connection on stdout, in the same shape as the
// component log. Lines are built directly (fixed fields, no logger machinery) and handed to an
// asynchronous pino destination, which batches writes off the hot path; a line waits at most a
// second, and the batch is flushed at shutdown.
import { pino } from 'pino';

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

export function createAccessLog(dest?: NodeJS.WritableStream, flushAfterMs = FLUSH_AFTER_MS): AccessLog {
  // Batched (4 KiB) writes off the hot path, as nginx's `buffer=`; bounded in time, as its `flush=`.
  const stream = dest ?? pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const boom = stream as { flush?: (cb?: (err?: Error) => void) => void; flushSync?: () => void };
  // Losing stdout (EPIPE) loses log lines, never the traffic.
  stream.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  const flushSoon = () => {
    timer = undefined;
    try {
      boom.flush?.(() => {});
    } catch {
      // Nothing buffered, or the stream is closing: the next line or the shutdown flushes.
    }
  };
  // One timestamp string per millisecond, however many lines share it.
  let lastMs = 0;
  let lastIso = '';
  return {
    write: (entry) => {
      const ms = Date.now();
      if (ms !== lastMs) {
        lastMs = ms;
        lastIso = new Date(ms).toISOString();
      }
      stream.write(formatAccess(entry, lastIso));
      if (timer === undefined && boom.flush) {
        timer = setTimeout(flushSoon, flushAfterMs);
        timer.unref();
      }
    },
    flush: () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      try {
        boom.flushSync?.();
      } catch {
        // Not ready yet (nothing written): nothing to flush.
      }
    },
  };
}

export const noAccessLog: AccessLog = { write() {}, flush() {} };
