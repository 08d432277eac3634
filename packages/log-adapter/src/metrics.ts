// Metric families kept in plain objects and handed to a prom-client Registry for exposition.
// Each family owns its series (one per label set) and its cardinality guard, so the hot path is a
// lookup plus a few additions: no prom-client label hashing per line.
import type { Registry } from 'prom-client';
import { SeriesLimit } from './cardinality.ts';

export type Labels = Record<string, string>;

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
  protected readonly series = new Map<string, S & { labels: Labels }>();
  readonly #limit: SeriesLimit;
  #overflow: (S & { labels: Labels }) | undefined;
  abstract readonly type: 'counter' | 'gauge' | 'histogram';

  constructor(opts: FamilyOptions) {
    this.baseName = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames ?? [];
    this.constLabels = opts.constLabels ?? {};
    this.#limit = opts.limit ?? SeriesLimit.unlimited;
  }

  get name(): string {
    return this.baseName;
  }

  /**
   * The series for these label values (in labelNames order); the overflow series past the limit.
   * A lookup only: whoever observes into the overflow series counts it (see folded()).
   */
  at(values: readonly string[], key = values.join('\u0001')): S & { labels: Labels } {
    const found = this.series.get(key);
    if (found) return found;
    if (this.series.size >= this.#limit.max && key !== OVERFLOW_KEY) {
      this.#overflow ??= this.#create(
        OVERFLOW_KEY,
        this.labelNames.map(() => OVERFLOW_VALUE),
      );
      return this.#overflow;
    }
    return this.#create(key, values);
  }

  /** True when this series is the one new label sets fold into. */
  isOverflow(s: S & { labels: Labels }): boolean {
    return s === this.#overflow;
  }

  /** Counts one observation made into the overflow series. */
  folded(): void {
    this.#limit.folded(this.baseName);
  }

  get size(): number {
    return this.series.size;
  }

  #create(key: string, values: readonly string[]): S & { labels: Labels } {
    const labels: Labels = { ...this.constLabels };
    this.labelNames.forEach((n, i) => {
      labels[n] = values[i] ?? '';
    });
    const s = Object.assign(this.empty(), { labels }) as S & { labels: Labels };
    this.series.set(key, s);
    return s;
  }

  protected abstract empty(): S;
  protected abstract samples(): Sample[];

  get(): { name: string; help: string; type: string; values: Sample[]; aggregator: 'sum' } {
    return {
      name: this.baseName,
      help: this.help,
      type: this.type,
      values: this.samples(),
      aggregator: 'sum',
    };
  }

  reset(): void {
    this.series.clear();
    this.#overflow = undefined;
  }
}

export const OVERFLOW_KEY = '\u0000overflow';
export const OVERFLOW_VALUE = '__overflow__';

export interface FamilyOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
  constLabels?: Labels;
  limit?: SeriesLimit;
}

export interface CounterSeries {
  value: number;
}

export class CounterFamily extends Family<CounterSeries> {
  readonly type = 'counter';
  protected empty(): CounterSeries {
    return { value: 0 };
  }
  inc(values: readonly string[] = [], by = 1): void {
    const s = this.at(values);
    if (this.isOverflow(s)) this.folded();
    s.value += by;
  }
  protected samples(): Sample[] {
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
    const s = this.at(values);
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
    const s = this.at(values);
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
