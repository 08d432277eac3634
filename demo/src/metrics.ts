// A small reader of the Prometheus text format, enough for the pod view: samples with labels,
// sums over label sets, and a quantile from histogram buckets (as PromQL's histogram_quantile).

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    LABEL.lastIndex = 0;
    let lm: RegExpExecArray | null = LABEL.exec(body);
    while (lm) {
      labels[lm[1]!] = lm[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      lm = LABEL.exec(body);
    }
    out.push({ name: m[1]!, labels, value: parseValue(m[3]!) });
  }
  return out;
}

function parseValue(s: string): number {
  if (s === '+Inf') return Number.POSITIVE_INFINITY;
  if (s === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(s);
}

/** Samples of one metric whose labels include every given label. */
export function select(
  samples: readonly Sample[],
  name: string,
  match: Record<string, string> = {},
): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** Sum of a metric over all its label sets; undefined when it is absent. */
export function sum(
  samples: readonly Sample[],
  name: string,
  match: Record<string, string> = {},
): number | undefined {
  const found = select(samples, name, match);
  return found.length ? found.reduce((a, s) => a + s.value, 0) : undefined;
}

/** Sums a metric by one label: { "200": 12, "404": 1 }. */
export function sumBy(samples: readonly Sample[], name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of select(samples, name)) {
    const key = s.labels[label] ?? '';
    out[key] = (out[key] ?? 0) + s.value;
  }
  return out;
}

/** The first metric that exists among candidate names (contract names first, then fallbacks). */
export function firstOf(samples: readonly Sample[], names: readonly string[]): number | undefined {
  for (const n of names) {
    const v = sum(samples, n);
    if (v !== undefined) return v;
  }
  return undefined;
}

/**
 * The q-quantile of a histogram `<base>_bucket{le}` summed over all other labels, interpolated
 * linearly inside the bucket as Prometheus does. undefined when there are no observations.
 */
export function histogramQuantile(samples: readonly Sample[], base: string, q: number): number | undefined {
  const byLe = new Map<number, number>();
  for (const s of select(samples, `${base}_bucket`)) {
    const le = parseValue(s.labels['le'] ?? '');
    if (Number.isNaN(le)) continue;
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  const buckets = [...byLe.entries()].sort((a, b) => a[0] - b[0]);
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return prevLe;
      const inBucket = count - prevCount;
      return inBucket === 0 ? le : prevLe + ((le - prevLe) * (rank - prevCount)) / inBucket;
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}
