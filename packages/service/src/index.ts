// @multipod/service: what every component shares, written once.
export { type AdminOptions, createAdminServer, type Route, renderMetrics } from './admin.ts';
export { Health, type HealthChecks, handleHealth, type Probe, type ProbeFn } from './health.ts';
export { afterClose, type Refusal, rawResponse, refusalFor, refuseVersion } from './http-errors.ts';
export { closeServer, ListenError, type ListenOptions, listen } from './listen.ts';
export { createLogger, type Logger, type LoggerOptions, type LogLevel } from './logger.ts';
export {
  type CommonSettings,
  commonSettings,
  FatalError,
  type MainOptions,
  type Running,
  runMain,
} from './run-main.ts';
export {
  bool,
  duration,
  host,
  int,
  type Kind,
  list,
  loadSettings,
  MAX_TIMER_MS,
  oneOf,
  path,
  port,
  SettingError,
  type SettingSpec,
  type SettingSpecs,
  type Settings,
  setting,
  size,
  text,
  url,
} from './settings.ts';
export { formatDuration, parseDuration } from './units.ts';
export { type FileWatcher, type WatchFileOptions, watchFile } from './watch-file.ts';
