// JSON-lines logger on stdout: {"level":"info","time":"…","component":"web","msg":"…", …fields}.
import { type Logger, pino } from 'pino';

export type { Logger };
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; defaults to stdout (fd 1). Tests pass a stream to read them back. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(component: string, opts: LoggerOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { component },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    // Synchronous writes: component logs are low-volume, and a line written just before exit
    // must not be lost.
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
