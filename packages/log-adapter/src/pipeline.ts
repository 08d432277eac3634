// Record → metrics. The default metrics take a fast path: one cached group of series per
// (method, status), found by array index, so a parsed line costs a few additions. Custom metrics
// from ADAPTER_CONFIG are evaluated after that, field by field. Sources (source.ts) parse the lines
// of each file or syslog program and hand the records here.
import type { Logger } from '@multipod/service';
import type { Registry } from 'prom-client';
import { SeriesLimit } from './cardinality.ts';
import type { CustomConfig } from './custom-config.ts';
import { CustomMetrics } from './custom-metrics.ts';
import type { RotationReason, TailEvents } from './file-tail.ts';
import type { Formats, LineRecord } from './formats/index.ts';
import { METHOD_COUNT, methodName } from './formats/record.ts';
import {
  CounterFamily,
  type CounterSeries,
  GaugeFamily,
  HistogramFamily,
  type HistogramSeries,
  register,
  type SeriesBase,
} from './metrics.ts';
import { SeriesTtl } from './series-ttl.ts';
import { type RecordSink, Source, UNKNOWN_FORMAT } from './source.ts';

export interface PipelineOptions {
  registry: Registry;
  formats: Formats;
  buckets: readonly number[];
  maxSeries: number;
  /** ms a request series may go unobserved before it is removed; 0: never. */
  seriesTtl: number;
  custom: CustomConfig;
  log: Logger;
  /** At most one unparsed line is logged per this many ms. */
  unparsedLogInterval: number;
  now: () => number;
  /** Lag and open-file count, read at scrape time. */
  tailState: () => { lag: number; files: number };
  /** Each source being read and its format, read at scrape time. */
  sources: () => { path: string; format: string }[];
}

interface Group {
  requests: CounterSeries & SeriesBase;
  size: CounterSeries & SeriesBase;
  /** Made when the first line of the group with a time arrives. */
  duration: (HistogramSeries & SeriesBase) | null;
  /** Counters whose series limit folded this group into their overflow series. */
  folded: CounterFamily[];
  /** The duration histogram folded it too. */
  durationFolded: boolean;
}

const STATUS_SLOTS = 600;

export class Pipeline implements RecordSink {
  readonly events: TailEvents;
  readonly #formats: Formats;
  readonly #requests: CounterFamily;
  readonly #size: CounterFamily;
  readonly #duration: HistogramFamily | null;
  readonly #groups: (Group | undefined)[] = new Array(METHOD_COUNT * STATUS_SLOTS);
  readonly #parsed: CounterSeries;
  readonly #unparsed: CounterSeries;
  readonly #tooLong: CounterSeries;
  readonly #ignored: CounterSeries;
  readonly #bytes: CounterSeries;
  readonly #rotations: CounterFamily;
  readonly #fileErrors: CounterSeries;
  readonly #custom: CustomMetrics;
  readonly #ttl: SeriesTtl | undefined;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #unparsedEvery: number;
  #lastUnparsedLog = Number.NEGATIVE_INFINITY;
  #unparsedSinceLog = 0;

  constructor(opts: PipelineOptions) {
    const { registry } = opts;
    this.#formats = opts.formats;
    this.#log = opts.log;
    this.#now = opts.now;
    this.#unparsedEvery = opts.unparsedLogInterval;

    const overflow = new CounterFamily({
      name: 'log_adapter_series_overflow_total',
      help: "Observations (one per line and metric) made into a metric's overflow series because it reached ADAPTER_MAX_SERIES.",
      labelNames: ['metric'],
    });
    const limit = new SeriesLimit(opts.maxSeries, (metric) => {
      overflow.at([metric]).value++;
    });
    const expired = new CounterFamily({
      name: 'log_adapter_series_expired_total',
      help: 'Series removed because they were not observed for ADAPTER_SERIES_TTL.',
      labelNames: ['metric'],
      collect: () => this.#ttl?.sweepAll(),
    });
    this.#ttl =
      opts.seriesTtl > 0
        ? new SeriesTtl(opts.seriesTtl, opts.now, (metric, n) => {
            expired.at([metric]).value += n;
          })
        : undefined;
    const ttl = this.#ttl;
    const httpLabels = ['method', 'code'];
    this.#requests = register(
      registry,
      new CounterFamily({
        name: 'http_requests_total',
        help: 'HTTP requests, from the access log.',
        labelNames: httpLabels,
        limit,
        ttl,
      }),
    );
    this.#size = register(
      registry,
      new CounterFamily({
        name: 'http_response_size_bytes_total',
        help: 'Response body bytes sent, from the access log.',
        labelNames: httpLabels,
        limit,
        ttl,
      }),
    );
    this.#duration = opts.formats.hasDuration
      ? register(
          registry,
          new HistogramFamily({
            name: 'http_request_duration_seconds',
            help: 'Request duration in seconds, from the access log.',
            labelNames: httpLabels,
            buckets: opts.buckets,
            limit,
            ttl,
          }),
        )
      : null;

    const lines = register(
      registry,
      new CounterFamily({
        name: 'log_adapter_lines_total',
        help: 'Lines read, by result: parsed, unparsed (in no format it reads), too_long (over ADAPTER_MAX_LINE, skipped), ignored (of a known format but not a request).',
        labelNames: ['result'],
      }),
    );
    this.#parsed = lines.at(['parsed']);
    this.#unparsed = lines.at(['unparsed']);
    this.#tooLong = lines.at(['too_long']);
    this.#ignored = lines.at(['ignored']);
    this.#bytes = register(
      registry,
      new CounterFamily({
        name: 'log_adapter_bytes_read_total',
        help: 'Bytes read from log files and syslog datagrams.',
      }),
    ).at([]);
    this.#rotations = register(
      registry,
      new CounterFamily({
        name: 'log_adapter_rotations_total',
        help: 'Rotations followed: replaced (rename + create, delete + recreate) or truncated (copytruncate).',
        labelNames: ['reason'],
      }),
    );
    this.#rotations.at(['replaced']);
    this.#rotations.at(['truncated']);
    this.#fileErrors = register(
      registry,
      new CounterFamily({
        name: 'log_adapter_file_errors_total',
        help: 'Times a log file could not be opened (permission denied, not a regular file…).',
      }),
    ).at([]);
    register(
      registry,
      new GaugeFamily({
        name: 'log_adapter_lag_bytes',
        help: 'Bytes written to the log files but not read yet.',
        collect: (g) => g.set([], opts.tailState().lag),
      }),
    );
    register(
      registry,
      new GaugeFamily({
        name: 'log_adapter_files',
        help: 'Log files being read.',
        collect: (g) => g.set([], opts.tailState().files),
      }),
    );
    register(
      registry,
      new GaugeFamily({
        name: 'log_adapter_format_info',
        help: 'The format each file (or syslog program) is read in: detected from its lines with ADAPTER_FORMAT=auto ("unknown" until one is read), else the one set. Always 1.',
        labelNames: ['path', 'format'],
        collect: (g) => {
          g.reset();
          for (const s of opts.sources()) g.set([s.path, s.format], 1);
        },
      }),
    );

    register(registry, overflow);
    if (ttl) register(registry, expired);
    this.#custom = new CustomMetrics({ registry, limit, ttl, defaultBuckets: opts.buckets });
    this.#custom.apply(opts.custom);

    this.events = {
      source: (path) => this.source(path),
      bytes: (n) => {
        this.#bytes.value += n;
        this.#ttl?.advance();
      },
      rotated: (path, reason) => this.#rotated(path, reason),
      error: (path, message) => {
        this.#fileErrors.value++;
        this.#log.warn({ path }, message);
      },
      lost: (path, offset) => {
        this.#log.warn(
          { path, offset },
          `the file read as ${path} last time is gone (deleted or compressed while the adapter was stopped); lines written to it after byte ${offset}, if any, are not counted`,
        );
      },
    };
  }

  /** A new source of lines (a file, a syslog program), read in the configured format. */
  source(name: string): Source {
    return new Source(name, this.#formats, this);
  }

  /** Lines read from now on (a syslog message) are this recent, for ADAPTER_SERIES_TTL. */
  advanceClock(): void {
    this.#ttl?.advance();
  }

  /** Swaps in the metrics, routes and json mapping of a reloaded ADAPTER_CONFIG. */
  applyConfig(custom: CustomConfig): void {
    this.#formats.remap(custom.json);
    this.#custom.apply(custom);
  }

  request(r: LineRecord): void {
    this.#parsed.value++;
    const slot = r.method * STATUS_SLOTS + r.status;
    let g = this.#groups[slot];
    if (g === undefined) g = this.#group(slot, r);
    else if (this.#ttl !== undefined) {
      // Removed by the TTL since: look the series up again (the group is rebuilt).
      if (g.requests.removed || g.size.removed || g.duration?.removed) g = this.#group(slot, r);
      const t = this.#ttl.tick;
      g.requests.seen = t;
      g.size.seen = t;
      if (g.duration !== null) g.duration.seen = t;
    }
    g.requests.value++;
    g.size.value += r.bytes;
    const d = r.duration;
    // Folds are counted per observation made, so a line without a time adds none for the histogram.
    if (g.folded.length > 0) for (const f of g.folded) f.folded();
    if (!Number.isNaN(d) && this.#duration !== null) {
      const h = g.duration ?? this.#durationSeries(g, r);
      this.#duration.observe(h, d);
      if (g.durationFolded) this.#duration.folded();
    }
    this.#custom.observe(r);
  }

  /** A group's histogram series is made with its first time: logs without times get none. */
  #durationSeries(g: Group, r: LineRecord): HistogramSeries & SeriesBase {
    const h = this.#duration!.at([methodName(r.method), String(r.status)]);
    g.duration = h;
    g.durationFolded = this.#duration!.isOverflow(h);
    return h;
  }

  notRequest(): void {
    this.#ignored.value++;
  }

  tooLong(): void {
    this.#tooLong.value++;
  }

  detected(source: Source, format: string): void {
    this.#log.info({ path: source.name, format }, `log format detected: ${format}`);
  }

  unparsed(buf: Buffer, start: number, end: number, source: Source): void {
    this.#unparsed.value++;
    this.#unparsedSinceLog++;
    const now = this.#now();
    if (now - this.#lastUnparsedLog < this.#unparsedEvery) return;
    const expected = !source.auto
      ? `line does not match the ${source.format} format`
      : source.format === UNKNOWN_FORMAT
        ? 'line does not match any format the adapter detects; if it is an access log, set ADAPTER_FORMAT (e.g. its nginx log_format string)'
        : `line does not match the ${source.format} format detected for ${source.name}, nor another the adapter detects`;
    this.#log.warn(
      {
        path: source.name,
        line:
          end - start > 300
            ? `${buf.toString('utf8', start, start + 300)}…`
            : buf.toString('utf8', start, end),
        unparsedSinceLastLog: this.#unparsedSinceLog,
      },
      `${expected}; counted as log_adapter_lines_total{result="unparsed"} and skipped`,
    );
    this.#lastUnparsedLog = now;
    this.#unparsedSinceLog = 0;
  }

  #group(slot: number, r: LineRecord): Group {
    const values = [methodName(r.method), String(r.status)];
    const requests = this.#requests.at(values);
    const size = this.#size.at(values);
    const g: Group = {
      requests,
      size,
      duration: null,
      folded: [
        ...(this.#requests.isOverflow(requests) ? [this.#requests] : []),
        ...(this.#size.isOverflow(size) ? [this.#size] : []),
      ],
      durationFolded: false,
    };
    this.#groups[slot] = g;
    return g;
  }

  #rotated(path: string, reason: RotationReason): void {
    this.#rotations.at([reason]).value++;
    this.#log.info({ path, reason }, 'log file rotated; following the new one');
  }
}
