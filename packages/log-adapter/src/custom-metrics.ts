// The metrics of ADAPTER_CONFIG: each line's fields → counters, gauges, histograms. apply() swaps in
// a new config at once (a reload); a metric whose name, type, labels and buckets stay the same
// keeps its family and so its series: a reload never resets the counters it did not change.
import type { Registry } from 'prom-client';
import type { SeriesLimit } from './cardinality.ts';
import type { CustomConfig, CustomMetric } from './custom-config.ts';
import type { LineRecord } from './formats/index.ts';
import { LAST_VALUE_FIELDS, lastValue, SUMMED_FIELDS, sumValues } from './formats/multi-value.ts';
import { methodName } from './formats/record.ts';
import { addToKey, CounterFamily, GaugeFamily, HistogramFamily, type Labels, register } from './metrics.ts';
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
  /** Counts lines, so a field several metrics read (a route) is computed once per line. */
  readonly #line = { n: 0 };
  /** Registered families by metric name, with what identifies their series. */
  #families = new Map<string, { family: AnyFamily; signature: string }>();

  constructor(opts: CustomMetricsOptions) {
    this.#opts = opts;
  }

  observe(r: LineRecord): void {
    this.#line.n++;
    for (const m of this.#compiled) m.apply(r);
  }

  /** Replaces the metrics with these (the config is already validated). */
  apply(config: CustomConfig): void {
    const { registry } = this.#opts;
    const routes = new Routes(config.routes);
    const fields = new FieldReaders(routes, this.#line);
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
    this.#compiled = config.metrics.map((m) => compile(m, kept.get(m.name)!.family, fields));
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

function compile(m: CustomMetric, family: AnyFamily, fields: FieldReaders): Compiled {
  const labelReads = Object.values(m.labels).map((f) => fields.reader(f));
  const filters = m.filter.map((f) => ({ read: fields.reader(f.field), re: f.re }));
  const readValue = m.value === undefined ? null : numberReader(m.value, fields.reader(m.value));
  // The series key is built from the label values without an array; the array is made only for a
  // new series (the values read for this line are cached, so reading them again costs nothing).
  const key = (r: LineRecord) => {
    let k = '';
    for (let i = 0; i < labelReads.length; i++) k = addToKey(k, i === 0, labelReads[i]!(r) ?? '');
    return k;
  };
  // The line being applied, for `values` (one function, not a closure per line).
  let line: LineRecord;
  const values = (r: LineRecord) => {
    line = r;
    return makeValues;
  };
  const makeValues = () => labelReads.map((f) => f(line) ?? '');
  const pass =
    filters.length === 0 ? () => true : (r: LineRecord) => filters.every((f) => f.re.test(f.read(r) ?? ''));
  if (family instanceof HistogramFamily)
    return {
      apply(r) {
        if (!pass(r)) return;
        const v = readValue!(r);
        if (!Number.isNaN(v)) family.observeKey(key(r), values(r), v);
      },
    };
  if (family instanceof GaugeFamily)
    return {
      apply(r) {
        if (!pass(r)) return;
        const v = readValue!(r);
        if (!Number.isNaN(v)) family.setKey(key(r), values(r), v);
      },
    };
  return {
    apply(r) {
      if (!pass(r)) return;
      const v = readValue ? readValue(r) : 1;
      if (v >= 0) family.incKey(key(r), values(r), v);
    },
  };
}

type Read = (r: LineRecord) => string | undefined;

/** One reader per field, each read at most once per line however many metrics use it. */
class FieldReaders {
  readonly #routes: Routes;
  readonly #line: { n: number };
  readonly #readers = new Map<string, Read>();

  constructor(routes: Routes, line: { n: number }) {
    this.#routes = routes;
    this.#line = line;
  }

  reader(field: string): Read {
    let read = this.#readers.get(field);
    if (read) return read;
    const plain = fieldReader(field, this.#routes);
    const line = this.#line;
    let at = -1;
    let value: string | undefined;
    read = (r) => {
      if (at !== line.n) {
        value = plain(r);
        at = line.n;
      }
      return value;
    };
    this.#readers.set(field, read);
    return read;
  }
}

/** A field's text; an upstream status or address list gives its last value (multi-value.ts). */
function fieldReader(field: string, routes: Routes): Read {
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
