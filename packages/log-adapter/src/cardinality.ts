// The cardinality guard: a per-metric cap on series. Past it, new label sets fold into one overflow
// series per metric and log_adapter_series_overflow_total{metric} counts the folded observations.

export class SeriesLimit {
  static readonly unlimited = new SeriesLimit(Number.POSITIVE_INFINITY, () => {});
  readonly max: number;
  readonly #onFold: (metric: string) => void;

  constructor(max: number, onFold: (metric: string) => void) {
    this.max = max;
    this.#onFold = onFold;
  }

  folded(metric: string): void {
    this.#onFold(metric);
  }
}
