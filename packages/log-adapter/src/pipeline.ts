// Line → record → metrics. The default metrics take a fast path: one cached group of series per
// (method, status), found by array index, so a parsed line costs a few additions. Custom metrics
// from ADAPTER_CONFIG are evaluated after that, field by field.
import type { Logger } from '@multipod/service';
import type { Registry } from 'prom-client';
import { SeriesLimit } from './cardinality.ts';
import type { CustomConfig, CustomMetric } from './custom-config.ts';
import type { RotationReason, TailEvents } from './file-tail.ts';
import type { LineRecord, Parser } from './formats/index.ts';
import { METHOD_COUNT, methodName } from './formats/record.ts';
import {
  CounterFamily,
  type CounterSeries,
  GaugeFamily,
  HistogramFamily,
  type HistogramSeries,
  type Labels,
  register,
} from './metrics.ts';
import { Routes } from './routes.ts';

export interface PipelineOptions {
  registry: Registry;
  parser: Parser;
  /** Name of the format, for the unparsed-line log. */
  formatName: string;
  buckets: readonly number[];
  maxSeries: number;
  custom: CustomConfig;
  log: Logger;
  /** At most one unparsed line is logged per this many ms. */
  unparsedLogInterval: number;
  now: () => number;
  /** Lag and open-file count, read at scrape time. */
  tailState: () => { lag: number; files: number };
}

interface Group {
  requests: CounterSeries;
  size: CounterSeries;
  duration: HistogramSeries | null;
  /** Counters whose series limit folded this group into their overflow series. */
  folded: CounterFamily[];
  /** The duration histogram folded it too. */
  durationFolded: boolean;
}

const STATUS_SLOTS = 600;

export class Pipeline {
  readonly events: TailEvents;
  readonly #parser: Parser;
  readonly #requests: CounterFamily;
  readonly #size: CounterFamily;
  readonly #duration: HistogramFamily | null;
  readonly #groups: (Group | undefined)[] = new Array(METHOD_COUNT * STATUS_SLOTS);
  readonly #parsed: CounterSeries;
  readonly #unparsed: CounterSeries;
  readonly #tooLong: CounterSeries;
  readonly #bytes: CounterSeries;
  readonly #rotations: CounterFamily;
  readonly #fileErrors: CounterSeries;
  readonly #custom: CompiledMetric[];
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #formatName: string;
  readonly #unparsedEvery: number;
  #lastUnparsedLog = Number.NEGATIVE_INFINITY;
  #unparsedSinceLog = 0;

  constructor(opts: PipelineOptions) {
    const { registry } = opts;
    this.#parser = opts.parser;
    this.#log = opts.log;
    this.#now = opts.now;
    this.#formatName = opts.formatName;
    this.#unparsedEvery = opts.unparsedLogInterval;

    const overflow = new CounterFamily({
      name: 'log_adapter_series_overflow_total',
      help: "Observations (one per line and metric) made into a metric's overflow series because it reached ADAPTER_MAX_SERIES.",
      labelNames: ['metric'],
    });
    const limit = new SeriesLimit(opts.maxSeries, (metric) => {
      overflow.at([metric]).value++;
    });
    const httpLabels = ['method', 'code'];
    this.#requests = register(
      registry,
      new CounterFamily({
        name: 'http_requests_total',
        help: 'HTTP requests, from the access log.',
        labelNames: httpLabels,
        limit,
      }),
    );
    this.#size = register(
      registry,
      new CounterFamily({
        name: 'http_response_size_bytes_total',
        help: 'Response body bytes sent, from the access log.',
        labelNames: httpLabels,
        limit,
      }),
    );
    this.#duration = opts.parser.hasDuration
      ? register(
          registry,
          new HistogramFamily({
            name: 'http_request_duration_seconds',
            help: 'Request duration in seconds, from the access log.',
            labelNames: httpLabels,
            buckets: opts.buckets,
            limit,
          }),
        )
      : null;

    const lines = register(
      registry,
      new CounterFamily({
        name: 'log_adapter_lines_total',
        help: 'Lines read, by result: parsed, unparsed (did not match the format), too_long (over ADAPTER_MAX_LINE, skipped).',
        labelNames: ['result'],
      }),
    );
    this.#parsed = lines.at(['parsed']);
    this.#unparsed = lines.at(['unparsed']);
    this.#tooLong = lines.at(['too_long']);
    this.#bytes = register(
      registry,
      new CounterFamily({ name: 'log_adapter_bytes_read_total', help: 'Bytes read from log files.' }),
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

    register(registry, overflow);
    const routes = new Routes(opts.custom.routes);
    this.#custom = opts.custom.metrics.map((m) => compileMetric(m, registry, limit, routes, opts.buckets));

    this.events = {
      sink: { line: (buf, start, end) => this.line(buf, start, end), tooLong: () => this.#tooLong.value++ },
      bytes: (n) => {
        this.#bytes.value += n;
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

  line(buf: Buffer, start: number, end: number): void {
    const r = this.#parser.parse(buf, start, end);
    if (r === null) {
      this.#unparsed.value++;
      this.#sampleUnparsed(buf, start, end);
      return;
    }
    this.#parsed.value++;
    const slot = r.method * STATUS_SLOTS + r.status;
    const g = this.#groups[slot] ?? this.#group(slot, r);
    g.requests.value++;
    g.size.value += r.bytes;
    const d = r.duration;
    // Folds are counted per observation made, so a line without a time adds none for the histogram.
    if (g.folded.length > 0) for (const f of g.folded) f.folded();
    if (g.duration !== null && !Number.isNaN(d)) {
      this.#duration!.observe(g.duration, d);
      if (g.durationFolded) this.#duration!.folded();
    }
    for (const m of this.#custom) m.apply(r);
  }

  #group(slot: number, r: LineRecord): Group {
    const values = [methodName(r.method), String(r.status)];
    const requests = this.#requests.at(values);
    const size = this.#size.at(values);
    const duration = this.#duration ? this.#duration.at(values) : null;
    const g: Group = {
      requests,
      size,
      duration,
      folded: [
        ...(this.#requests.isOverflow(requests) ? [this.#requests] : []),
        ...(this.#size.isOverflow(size) ? [this.#size] : []),
      ],
      durationFolded: duration !== null && this.#duration!.isOverflow(duration),
    };
    this.#groups[slot] = g;
    return g;
  }

  #rotated(path: string, reason: RotationReason): void {
    this.#rotations.at([reason]).value++;
    this.#log.info({ path, reason }, 'log file rotated; following the new one');
  }

  #sampleUnparsed(buf: Buffer, start: number, end: number): void {
    this.#unparsedSinceLog++;
    const now = this.#now();
    if (now - this.#lastUnparsedLog < this.#unparsedEvery) return;
    this.#log.warn(
      {
        line:
          end - start > 300
            ? `${buf.toString('utf8', start, start + 300)}…`
            : buf.toString('utf8', start, end),
        unparsedSinceLastLog: this.#unparsedSinceLog,
      },
      `line does not match the ${this.#formatName} format; counted as log_adapter_lines_total{result="unparsed"} and skipped`,
    );
    this.#lastUnparsedLog = now;
    this.#unparsedSinceLog = 0;
  }
}

interface CompiledMetric {
  apply(r: LineRecord): void;
}

function compileMetric(
  m: CustomMetric,
  registry: Registry,
  limit: SeriesLimit,
  routes: Routes,
  defaultBuckets: readonly number[],
): CompiledMetric {
  const read = (field: string): ((r: LineRecord) => string | undefined) => {
    if (field === 'route') return (r) => routes.match(r.field('path'));
    if (field === 'method') return (r) => methodName(r.method);
    if (field === 'status' || field === 'code') return (r) => String(r.status);
    if (field === 'body_bytes_sent') return (r) => String(r.bytes);
    return (r) => r.field(field);
  };
  const labelNames = Object.keys(m.labels);
  const labelReads = Object.values(m.labels).map(read);
  const filters = m.filter.map((f) => ({ read: read(f.field), re: f.re }));
  const readValue = m.value === undefined ? null : numberReader(m.value, read(m.value));
  const opts = { name: m.name, help: m.help, labelNames, constLabels: m.constLabels as Labels, limit };
  const values = (r: LineRecord) => labelReads.map((f) => f(r) ?? '');
  const pass = (r: LineRecord) => filters.every((f) => f.re.test(f.read(r) ?? ''));
  if (m.type === 'histogram') {
    const h = register(registry, new HistogramFamily({ ...opts, buckets: m.buckets ?? defaultBuckets }));
    return {
      apply(r) {
        if (!pass(r)) return;
        const v = readValue!(r);
        if (!Number.isNaN(v)) h.observeAt(values(r), v);
      },
    };
  }
  if (m.type === 'gauge') {
    const g = register(registry, new GaugeFamily(opts));
    return {
      apply(r) {
        if (!pass(r)) return;
        const v = readValue!(r);
        if (!Number.isNaN(v)) g.set(values(r), v);
      },
    };
  }
  const c = register(registry, new CounterFamily(opts));
  return {
    apply(r) {
      if (!pass(r)) return;
      const v = readValue ? readValue(r) : 1;
      if (v >= 0) c.inc(values(r), v);
    },
  };
}

function numberReader(field: string, read: (r: LineRecord) => string | undefined): (r: LineRecord) => number {
  if (field === 'request_time' || field === 'duration') return (r) => r.duration;
  return (r) => {
    const s = read(r);
    if (s === undefined || s === '' || s === '-') return Number.NaN;
    return Number(s);
  };
}
