// ADAPTER_SERIES_TTL: a request series (a label set) not observed for this long is removed, so a
// route or upstream that went away stops being exported, as mtail's `del … after` does. Series
// are stamped with a coarse clock, read once per chunk of log read (not once per line), and swept
// when Prometheus reads the family.

/** A family whose series expire: it removes those last seen before the cutoff. */
export interface Expiring {
  readonly name: string;
  sweep(cutoff: number): number;
}

export class SeriesTtl {
  /** The time of the lines being read now; the pipeline sets it for each chunk. */
  tick: number;
  readonly #ttl: number;
  readonly #now: () => number;
  readonly #onExpire: (metric: string, n: number) => void;
  readonly #families = new Set<Expiring>();

  constructor(ttlMs: number, now: () => number, onExpire: (metric: string, n: number) => void) {
    this.#ttl = ttlMs;
    this.#now = now;
    this.#onExpire = onExpire;
    this.tick = now();
  }

  /** Series last seen before this are removed. */
  cutoff(): number {
    return this.#now() - this.#ttl;
  }

  /** Reads the clock for the lines about to be read. */
  advance(): void {
    this.tick = this.#now();
  }

  /** Sweeps one family (as Prometheus reads it). */
  sweep(family: Expiring): void {
    const n = family.sweep(this.cutoff());
    if (n > 0) this.#onExpire(family.name, n);
  }

  /** Sweeps every family, so the expiry counter read next is complete whatever the order of reading. */
  sweepAll(): void {
    for (const f of this.#families) this.sweep(f);
  }

  track(family: Expiring): void {
    this.#families.add(family);
  }

  untrack(family: Expiring): void {
    this.#families.delete(family);
  }
}
