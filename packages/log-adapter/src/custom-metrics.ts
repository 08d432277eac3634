// The metrics of ADAPTER_CONFIG: each line's fields → counters, gauges, histograms. apply() swaps in
// a new config at once (a reload); a metric whose name, type, labels and buckets stay the same
// keeps its family and so its series: a reload never resets the counters it did not change.
import type { Registry } from 'prom-client';
import type { SeriesLimit } from './cardinality.ts';
import type { CustomConfig, CustomMetric } from './custom-config.ts';
import type { LineRecord } from './formats/index.ts';
import { LAST_VALUE_FIELDS, lastValue, SUMMED_FIELDS, sumValues } from './formats/multi-value.ts';
import { methodName } from './formats/record.ts';
import { CounterFamily, GaugeFamily, HistogramFamily, type Labels, register } from './metrics.ts';
import { Routes } from './routes.ts';
import type { SeriesTtl } from './series-ttl.ts';

interface Compiled {
  apply(r: LineRecord): void;
}

type AnyFamily = CounterFamily | GaugeFamily | HistogramFamily;

export interface CustomMetricsOptions {
  registry: Registry;
  limit: SeriesLimit;
  ttl: SeriesTtl | undefined;
  defaultBuckets: readonly number[];
}

export class CustomMetrics {
  readonly #opts: CustomMetricsOptions;
  #compiled: Compiled[] = [];
  /** Registered families by metric name, with what identifies their series. */
  #families = new Map<string, { family: AnyFamily; signature: string }>();

  constructor(opts: CustomMetricsOptions) {
    this.#opts = opts;
  }

  observe(r: LineRecord): void {
    for (const m of this.#compiled) m.apply(r);
  }

  /** Replaces the metrics with these (the config is already validated). */
  apply(config: CustomConfig): void {
    const { registry } = this.#opts;
    const routes = new Routes(config.routes);
    const kept = new Map<string, { family: AnyFamily; signature: string }>();
    const fresh: [CustomMetric, string][] = [];
    for (const m of config.metrics) {
      const signature = signatureOf(m, this.#opts.defaultBuckets);
      const old = this.#families.get(m.name);
      if (old && old.signature === signature) kept.set(m.name, old);
      else fresh.push([m, signature]);
    }
    for (const [name, old] of this.#families)
      if (kept.get(name) !== old) {
        registry.removeSingleMetric(old.family.name);
        this.#opts.ttl?.untrack(old.family);
      }
    for (const [m, signature] of fresh) kept.set(m.name, { family: this.#family(m), signature });
    // One assignment: lines read from now on go to the new metrics.
    this.#compiled = config.metrics.map((m) => compile(m, kept.get(m.name)!.family, routes));
    this.#families = kept;
  }

  #family(m: CustomMetric): AnyFamily {
    const { registry, limit, ttl, defaultBuckets } = this.#opts;
    const opts = {
      name: m.name,
      help: m.help,
      labelNames: Object.keys(m.labels),
      constLabels: m.constLabels as Labels,
      limit,
      ttl,
    };
    if (m.type === 'histogram')
      return register(registry, new HistogramFamily({ ...opts, buckets: m.buckets ?? defaultBuckets }));
    if (m.type === 'gauge') return register(registry, new GaugeFamily(opts));
    return register(registry, new CounterFamily(opts));
  }
}

/** What a family's series depend on: the same signature keeps the series across a reload. */
function signatureOf(m: CustomMetric, defaultBuckets: readonly number[]): string {
  return JSON.stringify([
    m.type,
    m.help,
    Object.keys(m.labels),
    m.constLabels,
    m.type === 'histogram' ? (m.buckets ?? defaultBuckets) : null,
  ]);
}

function compile(m: CustomMetric, family: AnyFamily, routes: Routes): Compiled {
  const labelReads = Object.values(m.labels).map((f) => reader(f, routes));
  const filters = m.filter.map((f) => ({ read: reader(f.field, routes), re: f.re }));
  const readValue = m.value === undefined ? null : numberReader(m.value, reader(m.value, routes));
  const values = (r: LineRecord) => labelReads.map((f) => f(r) ?? '');
  const pass =
    filters.length === 0 ? () => true : (r: LineRecord) => filters.every((f) => f.re.test(f.read(r) ?? ''));
  if (family instanceof HistogramFamily)
    return {
      apply(r) {
        if (!pass(r)) return;
        const v = readValue!(r);
        if (!Number.isNaN(v)) family.observeAt(values(r), v);
      },
    };
  if (family instanceof GaugeFamily)
    return {
      apply(r) {
        if (!pass(r)) return;
        const v = readValue!(r);
        if (!Number.isNaN(v)) family.set(values(r), v);
      },
    };
  return {
    apply(r) {
      if (!pass(r)) return;
      const v = readValue ? readValue(r) : 1;
      if (v >= 0) family.inc(values(r), v);
    },
  };
}

/** A field's text; an upstream status or address list gives its last value (multi-value.ts). */
function reader(field: string, routes: Routes): (r: LineRecord) => string | undefined {
  if (field === 'route') return (r) => routes.match(r.field('path'));
  if (field === 'method') return (r) => methodName(r.method);
  if (field === 'status' || field === 'code') return (r) => String(r.status);
  if (field === 'body_bytes_sent') return (r) => String(r.bytes);
  if (LAST_VALUE_FIELDS.has(field)) return (r) => lastValue(r.field(field));
  return (r) => r.field(field);
}

/** A field as a number: the request time in seconds, a list of upstream times summed. */
function numberReader(field: string, read: (r: LineRecord) => string | undefined): (r: LineRecord) => number {
  if (field === 'request_time' || field === 'duration') return (r) => r.duration;
  if (SUMMED_FIELDS.has(field)) return (r) => sumValues(read(r));
  return (r) => {
    const s = read(r);
    if (s === undefined || s === '' || s === '-') return Number.NaN;
    return Number(s);
  };
}
