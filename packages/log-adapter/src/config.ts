// Settings of multipod-log-adapter: every one a flag and an ADAPTER_* variable (flags win).
import {
  commonSettings,
  duration,
  int,
  oneOf,
  path,
  port,
  type Settings,
  setting,
  size,
  text,
} from '@multipod/service';

export const DEFAULT_LOG_PATH = '/var/log/web/access.log';
export const DEFAULT_BUCKETS = '0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10';

export const settings = {
  port: setting(port(), {
    flag: 'port',
    env: 'ADAPTER_PORT',
    default: '9113',
    help: 'Port of /metrics, /healthz and /readyz.',
  }),
  host: setting(text('<address>'), {
    flag: 'host',
    env: 'ADAPTER_HOST',
    default: '0.0.0.0',
    help: 'Address to listen on (0.0.0.0 so Prometheus can scrape the pod IP).',
  }),
  // No default here: it depends on --syslog-listen (see logPathOf).
  logPath: setting(path(), {
    flag: 'log-path',
    env: 'ADAPTER_LOG_PATH',
    help: `Access log to tail: a file, or a glob (/var/log/*/access.log); new matching files are picked up. off: no file. Default ${DEFAULT_LOG_PATH}, or off with --syslog-listen.`,
  }),
  start: setting(oneOf(['end', 'beginning'] as const), {
    flag: 'start',
    env: 'ADAPTER_START',
    default: 'end',
    help: 'Where to start in files present at start-up (and not in the positions file).',
  }),
  positions: setting(path(), {
    flag: 'positions',
    env: 'ADAPTER_POSITIONS',
    help: 'File that remembers how far each log was read, so a restart resumes exactly there.',
  }),
  positionsInterval: setting(duration({ min: 100 }), {
    flag: 'positions-interval',
    env: 'ADAPTER_POSITIONS_INTERVAL',
    default: '5s',
    help: 'How often the positions file is written (also at shutdown).',
  }),
  format: setting(text('<format>'), {
    flag: 'format',
    env: 'ADAPTER_FORMAT',
    default: 'auto',
    help: "auto (each file's format detected from its lines: nginx, Apache, Caddy, Traefik, HAProxy, web, ambassador, JSON), or one of combined, common, vhost_combined, traefik, haproxy, caddy, ambassador, json, an nginx log_format string, regex:<pattern with named groups>.",
  }),
  config: setting(path(), {
    flag: 'config',
    env: 'ADAPTER_CONFIG',
    help: 'YAML file with custom metrics, route templates and the json field mapping; reloaded when it changes (a bad one is refused, the running one kept).',
  }),
  seriesTtl: setting(duration({ min: 1000 }), {
    flag: 'series-ttl',
    env: 'ADAPTER_SERIES_TTL',
    help: 'Remove a request series (label set) not seen for this long, e.g. 10m; unset: series are kept.',
  }),
  syslogListen: setting(text('<udp://address:port>'), {
    flag: 'syslog-listen',
    env: 'ADAPTER_SYSLOG_LISTEN',
    help: 'Also receive access-log lines as syslog over UDP (RFC 3164 or 5424), e.g. udp://127.0.0.1:5140.',
  }),
  syslogReceiveBuffer: setting(size({ min: 4096, max: 1024 * 2 ** 20 }), {
    flag: 'syslog-receive-buffer',
    env: 'ADAPTER_SYSLOG_RECEIVE_BUFFER',
    default: '8Mi',
    help: 'Receive buffer asked for the syslog socket (datagrams waiting to be read); the kernel caps it at net.core.rmem_max.',
  }),
  buckets: setting(text('<seconds,...>'), {
    flag: 'buckets',
    env: 'ADAPTER_BUCKETS',
    default: DEFAULT_BUCKETS,
    help: 'Upper bounds (seconds) of the http_request_duration_seconds buckets.',
  }),
  // Each file held open keeps a buffer of this size for its partial last line.
  maxLine: setting(size({ min: 1, max: 64 * 2 ** 20 }), {
    flag: 'max-line',
    env: 'ADAPTER_MAX_LINE',
    default: '16Ki',
    help: 'Longest line read (1 byte to 64Mi); longer ones are counted as too_long and skipped.',
  }),
  maxSeries: setting(int(1, 10_000_000), {
    flag: 'max-series',
    env: 'ADAPTER_MAX_SERIES',
    default: '1000',
    help: 'Series per metric; past it new label sets fold into one overflow series.',
  }),
  pollInterval: setting(duration({ min: 10 }), {
    flag: 'poll-interval',
    env: 'ADAPTER_POLL_INTERVAL',
    default: '250ms',
    help: 'How often files are checked even without a file-system event (rotations, new files).',
  }),
  unparsedLogInterval: setting(duration(), {
    flag: 'unparsed-log-interval',
    env: 'ADAPTER_UNPARSED_LOG_INTERVAL',
    default: '10s',
    help: 'At most one unparsed line is written to the log per this interval.',
  }),
  ...commonSettings('ADAPTER'),
};

export type AdapterConfig = Settings<typeof settings>;

/** The file or glob to tail, or null for none (off, or unset with a syslog listener). */
export function logPathOf(config: AdapterConfig): string | null {
  const p = config.logPath ?? (config.syslogListen ? 'off' : DEFAULT_LOG_PATH);
  return p === 'off' ? null : p;
}
