// The adapter, assembled: sources (tailed files, a syslog listener) → parser → metrics → admin
// server. createAdapter() validates everything the settings point at (format, buckets,
// ADAPTER_CONFIG, positions file, syslog address) and throws a SettingError naming the setting, so
// a bad start exits 2. ADAPTER_CONFIG is reloaded when it changes; a bad one is refused.
import type { Server } from 'node:http';
import type { Logger } from '@multipod/service';
import {
  closeServer,
  createAdminServer,
  type FileWatcher,
  Health,
  listen,
  SettingError,
  watchFile,
} from '@multipod/service';
import { Registry } from 'prom-client';
import { type AdapterConfig, logPathOf } from './config.ts';
import {
  ConfigError,
  type CustomConfig,
  EMPTY_CONFIG,
  parseBuckets,
  parseCustomConfigText,
  readConfigFile,
} from './custom-config.ts';
import { type FormatSpec, Formats, parseFormatSpec } from './formats/index.ts';
import { CounterFamily, GaugeFamily, register } from './metrics.ts';
import { Pipeline } from './pipeline.ts';
import {
  checkWritable,
  loadPositions,
  PositionsError,
  type SavedPositions,
  savePositions,
} from './positions.ts';
import { parseListen, type SyslogAddress, SyslogListener } from './syslog-listener.ts';
import { Tailer } from './tailer.ts';

export interface AdapterDeps {
  log: Logger;
  /** Clock for rate-limited logging, rotation grace and the series TTL; tests pass their own. */
  now?: () => number;
  /** Start the poll timer, fs.watch and the positions timer (tests call poll() themselves). */
  timers?: boolean;
  /** Watch ADAPTER_CONFIG for changes (default: as timers). */
  watchConfig?: boolean;
}

export type ReloadResult = 'applied' | 'rejected' | 'unchanged';

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
  /** Reads ADAPTER_CONFIG again; a valid change is applied, an invalid one refused. */
  reload(): ReloadResult;
  /** The syslog listener's URL once started (its port may have been 0), or null. */
  readonly syslogUrl: string | null;
}

/** configText while the file cannot be read (no file's text is a NUL alone). */
const UNREADABLE = '\u0000';

/** Size of the one read buffer the tailer reuses: larger reads, fewer system calls per line. */
const READ_SIZE = 256 * 1024;

export function createAdapter(config: AdapterConfig, deps: AdapterDeps): Adapter {
  const { log } = deps;
  const now = deps.now ?? Date.now;
  const spec = settingValue('--format / ADAPTER_FORMAT', () => parseFormatSpec(config.format), formatHint);
  const buckets = settingValue('--buckets / ADAPTER_BUCKETS', () => parseBuckets(config.buckets, 'buckets'));
  const fields = new Formats(spec, EMPTY_CONFIG.json).fields;
  let configText: string | undefined;
  let custom: CustomConfig = EMPTY_CONFIG;
  if (config.config) {
    const file = config.config;
    try {
      configText = readConfigFile(file);
      custom = parseCustomConfigText(configText, file, fields);
    } catch (err) {
      if (err instanceof ConfigError)
        throw new SettingError(`invalid --config / ADAPTER_CONFIG: ${err.message}`);
      throw err;
    }
  }
  const logPath = logPathOf(config);
  const syslogAddress: SyslogAddress | null = config.syslogListen
    ? settingValue('--syslog-listen / ADAPTER_SYSLOG_LISTEN', () => parseListen(config.syslogListen!))
    : null;
  if (logPath === null && syslogAddress === null)
    throw new SettingError(
      'invalid setting --log-path / ADAPTER_LOG_PATH: off, and no --syslog-listen / ADAPTER_SYSLOG_LISTEN: there would be nothing to read; give a file, a glob or a syslog address',
    );
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
  const formats = new Formats(spec, custom.json);
  // The tailer and the listener are created below; the pipeline reads their state at scrape time.
  let tailer: Tailer | null = null;
  let syslog: SyslogListener | null = null;
  const pipeline = new Pipeline({
    registry,
    formats,
    buckets,
    maxSeries: config.maxSeries,
    seriesTtl: config.seriesTtl ?? 0,
    custom,
    log,
    unparsedLogInterval: config.unparsedLogInterval,
    now,
    tailState: () => ({ lag: tailer?.lag() ?? 0, files: tailer?.fileCount ?? 0 }),
    sources: () => [...(tailer?.formats() ?? []), ...(syslog?.sources() ?? [])],
  });
  if (logPath !== null)
    tailer = new Tailer({
      pattern: logPath,
      start: config.start,
      maxLine: config.maxLine,
      readSize: READ_SIZE,
      saved,
      events: pipeline.events,
      now,
    });
  if (syslogAddress !== null) {
    const listener = new SyslogListener({
      address: syslogAddress,
      receiveBuffer: config.syslogReceiveBuffer,
      maxLine: config.maxLine,
      source: (name) => pipeline.source(name),
      datagram: (n) => {
        pipeline.events.bytes(n);
      },
      log,
    });
    syslog = listener;
    register(
      registry,
      new CounterFamily({
        name: 'log_adapter_syslog_drops_total',
        help: "Syslog datagrams the kernel dropped because the socket's receive buffer was full (from /proc/net/udp).",
        collect: (c) => {
          c.at([]).value = listener.drops() ?? 0;
        },
      }),
    );
    register(
      registry,
      new GaugeFamily({
        name: 'log_adapter_syslog_receive_buffer_bytes',
        help: 'Receive buffer of the syslog socket, as the kernel granted it (ADAPTER_SYSLOG_RECEIVE_BUFFER, capped by net.core.rmem_max).',
        collect: (g) => g.set([], listener.receiveBuffer),
      }),
    );
  }

  const reloads = register(
    registry,
    new CounterFamily({
      name: 'log_adapter_config_reloads_total',
      help: 'ADAPTER_CONFIG reloads by result: applied, or rejected (the running config stays).',
      labelNames: ['result'],
    }),
  );
  const reloadOk = register(
    registry,
    new GaugeFamily({
      name: 'log_adapter_config_last_reload_successful',
      help: '1 when ADAPTER_CONFIG on disk is the config running, 0 when the last reload was rejected.',
    }),
  );
  reloads.at(['applied']);
  reloads.at(['rejected']);
  reloadOk.set([], 1);

  const reload = (): ReloadResult => {
    const file = config.config;
    if (file === undefined) return 'unchanged';
    let next: CustomConfig;
    try {
      let text: string;
      try {
        text = readConfigFile(file);
      } catch (err) {
        // Refused once, not at every look while it stays unreadable.
        if (configText === UNREADABLE) return 'unchanged';
        configText = UNREADABLE;
        throw err;
      }
      if (text === configText) return 'unchanged';
      configText = text;
      next = parseCustomConfigText(text, file, fields);
    } catch (err) {
      reloads.at(['rejected']).value++;
      reloadOk.set([], 0);
      log.error(
        { file, err: (err as Error).message },
        `ADAPTER_CONFIG reload rejected; keeping the running config: ${(err as Error).message}`,
      );
      return 'rejected';
    }
    pipeline.applyConfig(next);
    reloads.at(['applied']).value++;
    reloadOk.set([], 1);
    log.info({ file, metrics: next.metrics.map((m) => m.name) }, 'ADAPTER_CONFIG reloaded');
    return 'applied';
  };

  const health = new Health({
    ready: () => {
      const problems: string[] = [];
      const reading: string[] = [];
      if (tailer) {
        const problem = tailer.problem();
        if (problem) problems.push(problem);
        else {
          const files = tailer.formats();
          reading.push(`reading ${files.length} file(s): ${list(files)}`);
        }
      }
      if (syslog) {
        if (!syslog.listening) problems.push('the syslog listener is not listening');
        else reading.push(`syslog on ${syslog.url}: ${list(syslog.sources()) || 'no program heard yet'}`);
      }
      return problems.length > 0
        ? { ok: false, reason: problems.join('; ') }
        : { ok: true, reason: reading.join('; ') };
    },
  });
  const server = createAdminServer({ health, registry });
  const timers: NodeJS.Timeout[] = [];
  let watcher: FileWatcher | undefined;
  let stopped = false;

  const poll = async () => {
    if (!tailer) return;
    await tailer.poll().catch((err: Error) => {
      log.error({ err }, `reading ${logPath} failed: ${err.message}`);
    });
  };
  const writePositions = () => {
    if (!config.positions || !tailer) return;
    try {
      savePositions(config.positions, tailer.positions());
    } catch (err) {
      log.error({ err }, `cannot write positions file ${config.positions}: ${(err as Error).message}`);
    }
  };

  return {
    registry,
    health,
    server,
    poll,
    reload,
    savePositions: writePositions,
    get syslogUrl() {
      return syslog?.listening ? syslog.url : null;
    },
    async start() {
      const port = await listen(server, {
        port: config.port,
        host: config.host,
        setting: '--port / ADAPTER_PORT',
      });
      if (syslog) {
        try {
          await syslog.start();
        } catch (err) {
          await closeServer(server);
          throw err;
        }
      }
      await poll();
      // From now on a crash recounts at most what was read since the last write: start with one.
      writePositions();
      if (deps.timers !== false && tailer) {
        const t = tailer;
        const tick = () => {
          if (!stopped) void poll();
        };
        timers.push(setInterval(tick, config.pollInterval));
        if (config.positions) timers.push(setInterval(writePositions, config.positionsInterval));
        t.watch(tick);
      }
      if (config.config && (deps.watchConfig ?? deps.timers !== false))
        watcher = watchFile(config.config, () => {
          if (!stopped) reload();
        });
      log.info(
        {
          port,
          logPath,
          syslog: syslog?.url,
          format: formatLabel(spec),
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
      watcher?.close();
      for (const timer of timers.splice(0)) clearInterval(timer);
      tailer?.unwatch();
      await syslog?.close();
      await poll();
      writePositions();
      await tailer?.close();
      await closeServer(server);
    },
  };
}

/** "a.log (combined), b.log (caddy)", at most 10 named. */
function list(sources: { path: string; format: string }[]): string {
  const named = sources.slice(0, 10).map((s) => `${s.path} (${s.format})`);
  if (sources.length > 10) named.push(`${sources.length - 10} more`);
  return named.join(', ');
}

function formatLabel(spec: FormatSpec): string {
  return spec.kind === 'nginx' ? 'nginx log_format' : spec.kind;
}

const formatHint =
  'give auto, combined, common, vhost_combined, traefik, haproxy, caddy, ambassador, json, an nginx log_format string ($remote_addr … $status …) or regex:<pattern>';

function settingValue<T>(where: string, read: () => T, hint?: string): T {
  try {
    return read();
  } catch (err) {
    const message =
      err instanceof ConfigError || err instanceof PositionsError ? err.message : (err as Error).message;
    throw new SettingError(`invalid setting ${where}: ${message}${hint ? `; ${hint}` : ''}`);
  }
}
