// Metric families kept in plain objects and handed to a prom-client Registry for exposition.
// Each family owns its series (one per label set) and its cardinality guard, so the hot path is a
// lookup plus a few additions: no prom-client label hashing per line. With a SeriesTtl, a series
// not observed for that long is removed when the family is next read (ADAPTER_SERIES_TTL).
import type { Registry } from 'prom-client';
import { SeriesLimit } from './cardinality.ts';
import type { SeriesTtl } from './series-ttl.ts';

export type Labels = Record<string, string>;

/** What every series carries besides its values. */
export interface SeriesBase {
  labels: Labels;
  /** When it was last observed (SeriesTtl.tick), with a TTL. */
  seen: number;
  /** Removed by the TTL: whoever still holds it must look it up again. */
  removed: boolean;
}

interface Sample {
  labels: Labels;
  value: number;
  metricName?: string;
}

/** What prom-client's Registry reads from a metric: name, help, type and get(). */
abstract class Family<S extends object> {
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly constLabels: Labels;
  protected readonly baseName: string;
  protected readonly series = new Map<string, S & SeriesBase>();
  readonly #limit: SeriesLimit;
  readonly #ttl: SeriesTtl | undefined;
  #overflow: (S & SeriesBase) | undefined;
  #renderName: string | undefined;
  abstract readonly type: 'counter' | 'gauge' | 'histogram';

  constructor(opts: FamilyOptions) {
    this.baseName = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames ?? [];
    this.constLabels = opts.constLabels ?? {};
    this.#limit = opts.limit ?? SeriesLimit.unlimited;
    this.#ttl = opts.ttl;
    this.#ttl?.track(this);
  }

  get name(): string {
    return this.baseName;
  }

  /**
   * The series for these label values (in labelNames order); the overflow series past the limit.
   * A lookup only: whoever observes into the overflow series counts it (see folded()).
   */
  at(values: readonly string[], key = labelKey(values)): S & SeriesBase {
    return this.atKey(key, values);
  }

  /** at() by the key of the values (labelKey()); the values are read only to make a new series. */
  atKey(key: string, values: readonly string[] | (() => readonly string[])): S & SeriesBase {
    const found = this.series.get(key);
    if (found) {
      if (this.#ttl) found.seen = this.#ttl.tick;
      return found;
    }
    if (this.series.size >= this.#limit.max && key !== OVERFLOW_KEY) {
      this.#overflow ??= this.#create(
        OVERFLOW_KEY,
        this.labelNames.map(() => OVERFLOW_VALUE),
      );
      return this.#overflow;
    }
    return this.#create(key, typeof values === 'function' ? values() : values);
  }

  /** True when this series is the one new label sets fold into. */
  isOverflow(s: S & SeriesBase): boolean {
    return s === this.#overflow;
  }

  /** Counts one observation made into the overflow series. */
  folded(): void {
    this.#limit.folded(this.baseName);
  }

  get size(): number {
    return this.series.size;
  }

  #create(key: string, values: readonly string[]): S & SeriesBase {
    const labels: Labels = { ...this.constLabels };
    this.labelNames.forEach((n, i) => {
      labels[n] = values[i] ?? '';
    });
    const s = Object.assign(this.empty(), { labels, seen: this.#ttl?.tick ?? 0, removed: false });
    this.series.set(key, s);
    return s;
  }

  /** Removes the series last observed before `cutoff`; returns how many. */
  sweep(cutoff: number): number {
    let n = 0;
    for (const [key, s] of this.series) {
      if (s.seen >= cutoff) continue;
      this.series.delete(key);
      s.removed = true;
      if (s === this.#overflow) this.#overflow = undefined;
      n++;
    }
    return n;
  }

  protected abstract empty(): S;
  protected abstract samples(): Sample[];

  get(): { name: string; help: string; type: string; values: Sample[]; aggregator: 'sum' } {
    this.#ttl?.sweep(this);
    const name = this.#renderName ?? this.baseName;
    this.#renderName = undefined;
    return { name, help: this.help, type: this.type, values: this.samples(), aggregator: 'sum' };
  }

  reset(): void {
    for (const s of this.series.values()) s.removed = true;
    this.series.clear();
    this.#overflow = undefined;
  }
}

export const OVERFLOW_KEY = '\u0000overflow';
const SEPARATOR = '\u0001';

/** The map key of a label set. */
export function labelKey(values: readonly string[]): string {
  return values.join(SEPARATOR);
}

/** labelKey() built by adding one value at a time (no array on the hot path). */
export function addToKey(key: string, first: boolean, value: string): string {
  return first ? value : key + SEPARATOR + value;
}
export const OVERFLOW_VALUE = '__overflow__';

export interface FamilyOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
  constLabels?: Labels;
  limit?: SeriesLimit;
  /** Remove series not observed for a while (request series only, never the adapter's own). */
  ttl?: SeriesTtl;
}

export interface CounterSeries {
  value: number;
}

export class CounterFamily extends Family<CounterSeries> {
  readonly type = 'counter';
  #collect: (() => void) | undefined;
  /** `collect` sets the values just before each read (a count kept elsewhere, e.g. by the kernel). */
  constructor(opts: FamilyOptions & { collect?: (c: CounterFamily) => void }) {
    super(opts);
    const collect = opts.collect;
    this.#collect = collect ? () => collect(this) : undefined;
  }
  protected empty(): CounterSeries {
    return { value: 0 };
  }
  inc(values: readonly string[] = [], by = 1): void {
    this.incKey(labelKey(values), values, by);
  }
  incKey(key: string, values: readonly string[] | (() => readonly string[]), by = 1): void {
    const s = this.atKey(key, values);
    if (this.isOverflow(s)) this.folded();
    s.value += by;
  }
  protected samples(): Sample[] {
    this.#collect?.();
    const out: Sample[] = [];
    for (const s of this.series.values()) out.push({ labels: s.labels, value: s.value });
    if (out.length === 0 && this.labelNames.length === 0)
      out.push({ labels: { ...this.constLabels }, value: 0 });
    return out;
  }
}

export class GaugeFamily extends Family<CounterSeries> {
  readonly type = 'gauge';
  #collect: (() => void) | undefined;
  constructor(opts: FamilyOptions & { collect?: (g: GaugeFamily) => void }) {
    super(opts);
    const collect = opts.collect;
    this.#collect = collect ? () => collect(this) : undefined;
  }
  protected empty(): CounterSeries {
    return { value: 0 };
  }
  set(values: readonly string[], value: number): void {
    this.setKey(labelKey(values), values, value);
  }
  setKey(key: string, values: readonly string[] | (() => readonly string[]), value: number): void {
    const s = this.atKey(key, values);
    if (this.isOverflow(s)) this.folded();
    s.value = value;
  }
  protected samples(): Sample[] {
    this.#collect?.();
    const out: Sample[] = [];
    for (const s of this.series.values()) out.push({ labels: s.labels, value: s.value });
    return out;
  }
}

export interface HistogramSeries {
  /** Non-cumulative counts per bucket; the last one is +Inf. */
  counts: Float64Array;
  sum: number;
  count: number;
}

export class HistogramFamily extends Family<HistogramSeries> {
  readonly type = 'histogram';
  readonly bounds: Float64Array;
  readonly #le: string[];

  constructor(opts: FamilyOptions & { buckets: readonly number[] }) {
    super(opts);
    this.bounds = Float64Array.from([...opts.buckets].sort((a, b) => a - b));
    this.#le = [...this.bounds].map(String).concat('+Inf');
  }
  protected empty(): HistogramSeries {
    return { counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
  }

  /** Adds one observation to the series of these label values. */
  observeAt(values: readonly string[], v: number): void {
    this.observeKey(labelKey(values), values, v);
  }
  observeKey(key: string, values: readonly string[] | (() => readonly string[]), v: number): void {
    const s = this.atKey(key, values);
    if (this.isOverflow(s)) this.folded();
    this.observe(s, v);
  }

  /** Adds one observation to a series (returned by at()); the caller counts a fold. */
  observe(s: HistogramSeries, v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    s.counts[i]!++;
    s.sum += v;
    s.count++;
  }

  protected samples(): Sample[] {
    const out: Sample[] = [];
    const bucket = `${this.baseName}_bucket`;
    for (const s of this.series.values()) {
      let acc = 0;
      for (let i = 0; i < s.counts.length; i++) {
        acc += s.counts[i]!;
        out.push({ labels: { ...s.labels, le: this.#le[i]! }, value: acc, metricName: bucket });
      }
      out.push({ labels: s.labels, value: s.sum, metricName: `${this.baseName}_sum` });
      out.push({ labels: s.labels, value: s.count, metricName: `${this.baseName}_count` });
    }
    return out;
  }
}

/** Registers a family with a prom-client Registry (it reads name, help, type and get()). */
export function register<F extends Family<object>>(registry: Registry, family: F): F {
  registry.registerMetric(family as unknown as Parameters<Registry['registerMetric']>[0]);
  return family;
}
