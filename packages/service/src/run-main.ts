// The one way a component's main.ts starts: parse settings (or print --help), log, start the
// component, and give SIGTERM/SIGINT one shutdown path with a deadline.
import type { Logger } from 'pino';
import { ListenError } from './listen.ts';
import { createLogger, LOG_LEVELS, type LogLevel } from './logger.ts';
import {
  duration,
  helpText,
  loadSettings,
  oneOf,
  SettingError,
  type SettingSpecs,
  type Settings,
  setting,
} from './settings.ts';

/** Settings every component has, under its own prefix: WEB_LOG_LEVEL, WEB_SHUTDOWN_TIMEOUT… */
export function commonSettings<const P extends string>(prefix: P) {
  return {
    logLevel: setting(oneOf(LOG_LEVELS), {
      flag: 'log-level',
      env: `${prefix}_LOG_LEVEL`,
      default: 'info',
      help: 'Least severe log level written to stdout.',
    }),
    shutdownTimeout: setting(duration({ min: 1 }), {
      flag: 'shutdown-timeout',
      env: `${prefix}_SHUTDOWN_TIMEOUT`,
      default: '10s',
      help: 'On SIGTERM, how long in-flight work may take before the process exits anyway.',
    }),
  };
}

/** What a started component gives back: how to stop it, and optional signal hooks. */
export interface Running {
  /** Stop accepting, finish in-flight work. Called once, with the deadline already running. */
  stop(): Promise<void>;
  /** SIGHUP (e.g. reopen log files). */
  reload?(): void;
  /**
   * A component whose job ends by itself (content-sync --once): runMain exits 0 when this
   * resolves, or reports the error as it reports a failed start when it rejects. Not consulted
   * once a signal has asked the process to stop.
   */
  done?: Promise<void>;
}

/**
 * A failure the user can act on (a busy port, a one-shot sync that could not publish): one fatal
 * log line with its message and fields, no stack, exit 1.
 */
export class FatalError extends Error {
  override name = 'FatalError';
  readonly fields: Readonly<Record<string, unknown>>;

  constructor(message: string, fields: Record<string, unknown> = {}) {
    super(message);
    this.fields = fields;
  }
}

export interface MainOptions<S extends SettingSpecs> {
  /** Component name, e.g. `web`; the image is multipod-<name>. */
  name: string;
  /** One line under the title in --help. */
  summary: string;
  settings: S;
  start(config: Settings<S> & CommonSettings, log: Logger): Promise<Running>;
  argv?: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
}

export interface CommonSettings {
  readonly logLevel: LogLevel;
  readonly shutdownTimeout: number;
}

export async function runMain<S extends SettingSpecs>(opts: MainOptions<S>): Promise<void> {
  const argv = opts.argv ?? process.argv.slice(2);
  const env = opts.env ?? process.env;
  const title = `multipod-${opts.name} — ${opts.summary}`;
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText(title, opts.settings));
    return;
  }
  let config: Settings<S> & CommonSettings;
  try {
    config = loadSettings(opts.settings, argv, env) as Settings<S> & CommonSettings;
  } catch (err) {
    if (!(err instanceof SettingError)) throw err;
    process.stderr.write(`multipod-${opts.name}: ${err.message}\n`);
    process.exit(2);
  }

  const log = createLogger(opts.name, { level: config.logLevel });
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception; exiting');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled promise rejection; exiting');
    process.exit(1);
  });

  /** A failed start (or one-shot run): exit 2 for a setting found bad, else 1. */
  const fail = (err: unknown, what: string): never => {
    const message = err instanceof Error ? err.message : String(err);
    // A setting found bad while starting (a format, a config file) reads like one found bad above.
    if (err instanceof SettingError) {
      process.stderr.write(`multipod-${opts.name}: ${message}\n`);
      process.exit(2);
    }
    // Problems the user can fix (a busy port) are one line; anything else logs its stack.
    if (err instanceof FatalError) log.fatal(err.fields, message);
    else if (err instanceof ListenError) log.fatal(message);
    else log.fatal({ err }, `${what}: ${message}`);
    process.exit(1);
  };

  // The signal handlers come first: a SIGTERM while the component starts (or runs once) is a
  // shutdown like any other, not Node's default death by signal.
  let started!: Promise<Running>;
  let running: Running | undefined;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, deadline: config.shutdownTimeout }, 'shutting down');
    const deadline = setTimeout(() => {
      log.error(
        { deadline: config.shutdownTimeout },
        'shutdown deadline passed; exiting with work unfinished',
      );
      process.exit(1);
    }, config.shutdownTimeout);
    deadline.unref();
    // Still starting: what start() gives back is stopped once it has it (a failed start exits below).
    started.then(
      (r) =>
        r.stop().then(
          () => {
            log.info('stopped');
            process.exit(0);
          },
          (err: Error) => {
            log.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        ),
      () => undefined,
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading');
    running?.reload?.();
  });

  started = new Promise((resolve) => resolve(opts.start(config, log)));
  try {
    running = await started;
  } catch (err) {
    fail(err, 'start-up failed');
  }
  running?.done?.then(
    () => {
      if (!stopping) process.exit(0);
    },
    (err: unknown) => {
      if (!stopping) fail(err, 'failed');
    },
  );
}
