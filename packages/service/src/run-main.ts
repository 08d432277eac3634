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

  let running: Running;
  try {
    running = await opts.start(config, log);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // A setting found bad while starting (a format, a config file) reads like one found bad above.
    if (err instanceof SettingError) {
      process.stderr.write(`multipod-${opts.name}: ${message}\n`);
      process.exit(2);
    }
    // Start-up problems the user can fix (a busy port) are one line; anything else logs its stack.
    if (err instanceof ListenError) log.fatal(message);
    else log.fatal({ err }, `start-up failed: ${message}`);
    process.exit(1);
  }

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
    running.stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: Error) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading');
    running.reload?.();
  });
}
