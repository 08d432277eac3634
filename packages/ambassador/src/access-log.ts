// The access log: one JSON line per request or TCP connection on stdout. Written asynchronously
// (pino with a non-blocking destination) so logging does not cost the hot path; flushed at shutdown.
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

export function createAccessLog(dest?: NodeJS.WritableStream): AccessLog {
  const stream = dest ?? pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const logger = pino(
    {
      base: { component: 'ambassador', log: 'access' },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  return {
    write: (entry) => logger.info(entry),
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
