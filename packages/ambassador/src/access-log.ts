// The access log: one JSON line per request or TCP connection on stdout, in the same shape as the
// component log. Lines are built directly (fixed fields, no logger machinery) and handed to an
// asynchronous pino destination, which batches writes off the hot path; flushed at shutdown.
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
  if (e.error !== undefined) line += `,"error":${str(e.error)}`;
  return `${line}}\n`;
}

export function createAccessLog(dest?: NodeJS.WritableStream): AccessLog {
  const stream = dest ?? pino.destination({ dest: 1, sync: false, minLength: 4096 });
  // Losing stdout (EPIPE) loses log lines, never the traffic.
  stream.on('error', () => {});
  return {
    write: (entry) => stream.write(formatAccess(entry, new Date().toISOString())),
    flush: () => {
      const s = stream as { flushSync?: () => void };
      try {
        s.flushSync?.();
      } catch {
        // Not ready yet (nothing written): nothing to flush.
      }
    },
  };
}

export const noAccessLog: AccessLog = { write() {}, flush() {} };
