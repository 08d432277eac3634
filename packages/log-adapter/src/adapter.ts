// The adapter, assembled: tailer → line splitter → parser → metrics → admin server.
// createAdapter() validates everything the settings point at (format, buckets, ADAPTER_CONFIG,
// positions file) and throws a SettingError naming the setting, so a bad start exits 2.
import type { Server } from 'node:http';
import type { Logger } from '@multipod/service';
import { closeServer, createAdminServer, Health, listen, SettingError } from '@multipod/service';
import { Registry } from 'prom-client';
import type { AdapterConfig } from './config.ts';
import {
  ConfigError,
  type CustomConfig,
  EMPTY_CONFIG,
  loadCustomConfig,
  parseBuckets,
} from './custom-config.ts';
import { createParser, type FormatSpec, parseFormatSpec } from './formats/index.ts';
import { Pipeline } from './pipeline.ts';
import {
  checkWritable,
  loadPositions,
  PositionsError,
  type SavedPositions,
  savePositions,
} from './positions.ts';
import { Tailer } from './tailer.ts';

export interface AdapterDeps {
  log: Logger;
  /** Clock for rate-limited logging; tests pass their own. */
  now?: () => number;
  /** Start the poll timer, fs.watch and the positions timer (tests call poll() themselves). */
  timers?: boolean;
}

export interface Adapter {
  readonly registry: Registry;
  readonly health: Health;
  readonly server: Server;
  /** Reads everything new now (what the timers and fs.watch trigger). */
  poll(): Promise<void>;
  /** Listens on config.port (0 in tests) and starts following the logs; resolves with the port. */
  start(): Promise<number>;
  /** Stops reading, reads what is left, writes the positions file, closes the server. */
  stop(): Promise<void>;
  savePositions(): void;
}

/** Size of the one read buffer each tailer reuses. */
const READ_SIZE = 64 * 1024;

export function createAdapter(config: AdapterConfig, deps: AdapterDeps): Adapter {
  const { log } = deps;
  const spec = settingValue('--format / ADAPTER_FORMAT', () => parseFormatSpec(config.format), formatHint);
  const buckets = settingValue('--buckets / ADAPTER_BUCKETS', () => parseBuckets(config.buckets, 'buckets'));
  const custom = loadConfig(config.config, spec);
  let saved: SavedPositions = { files: new Map(), rotated: [], existed: false };
  if (config.positions) {
    const file = config.positions;
    saved = settingValue('--positions / ADAPTER_POSITIONS', () => {
      const loaded = loadPositions(file);
      checkWritable(file);
      return loaded;
    });
  }

  const registry = new Registry();
  const parser = createParser(spec, custom.json);
  // The tailer is created below; the pipeline reads its state lazily at scrape time.
  let tailer: Tailer | undefined;
  const pipeline = new Pipeline({
    registry,
    parser,
    formatName: spec.kind === 'nginx' ? 'nginx log_format' : spec.kind,
    buckets,
    maxSeries: config.maxSeries,
    custom,
    log,
    unparsedLogInterval: config.unparsedLogInterval,
    now: deps.now ?? Date.now,
    tailState: () => ({ lag: tailer?.lag() ?? 0, files: tailer?.fileCount ?? 0 }),
  });
  tailer = new Tailer({
    pattern: config.logPath,
    start: config.start,
    maxLine: config.maxLine,
    readSize: READ_SIZE,
    saved,
    events: pipeline.events,
    now: deps.now ?? Date.now,
  });
  const t = tailer;

  const health = new Health({
    ready: () => {
      const problem = t.problem();
      return problem
        ? { ok: false, reason: problem }
        : { ok: true, reason: `reading ${t.fileCount} file(s)` };
    },
  });
  const server = createAdminServer({ health, registry });
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;

  const poll = () =>
    t.poll().catch((err: Error) => {
      log.error({ err }, `reading ${config.logPath} failed: ${err.message}`);
    });
  const writePositions = () => {
    if (!config.positions) return;
    try {
      savePositions(config.positions, t.positions());
    } catch (err) {
      log.error({ err }, `cannot write positions file ${config.positions}: ${(err as Error).message}`);
    }
  };

  return {
    registry,
    health,
    server,
    poll,
    savePositions: writePositions,
    async start() {
      const port = await listen(server, {
        port: config.port,
        host: config.host,
        setting: '--port / ADAPTER_PORT',
      });
      await poll();
      // From now on a crash recounts at most what was read since the last write: start with one.
      writePositions();
      if (deps.timers !== false) {
        const tick = () => {
          if (!stopped) void poll();
        };
        timers.push(setInterval(tick, config.pollInterval));
        if (config.positions) timers.push(setInterval(writePositions, config.positionsInterval));
        t.watch(tick);
      }
      log.info(
        {
          port,
          logPath: config.logPath,
          format: spec.kind,
          start: config.start,
          positions: config.positions,
        },
        'listening; tailing the log',
      );
      return port;
    },
    async stop() {
      stopped = true;
      health.drain();
      for (const timer of timers.splice(0)) clearInterval(timer);
      t.unwatch();
      await poll();
      writePositions();
      await t.close();
      await closeServer(server);
    },
  };
}

function loadConfig(file: string | undefined, spec: FormatSpec): CustomConfig {
  if (!file) return EMPTY_CONFIG;
  try {
    // For json any key can be a field; other formats give a fixed set.
    const fields = spec.kind === 'json' ? null : createParser(spec, EMPTY_CONFIG.json).fields;
    return loadCustomConfig(file, fields);
  } catch (err) {
    if (err instanceof ConfigError)
      throw new SettingError(`invalid --config / ADAPTER_CONFIG: ${err.message}`);
    throw err;
  }
}

const formatHint =
  'give web, combined, common, json, an nginx log_format string ($remote_addr … $status …) or regex:<pattern>';

function settingValue<T>(where: string, read: () => T, hint?: string): T {
  try {
    return read();
  } catch (err) {
    const message =
      err instanceof ConfigError || err instanceof PositionsError ? err.message : (err as Error).message;
    throw new SettingError(`invalid setting ${where}: ${message}${hint ? `; ${hint}` : ''}`);
  }
}
