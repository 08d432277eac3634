// A local rate limit: a token bucket (rate per second, burst) for a listener or a route, or one per
// client address in a bounded table. Over the limit the request gets 429 with Retry-After, before
// any upstream is asked. Local means per ambassador: N replicas allow N times the rate.

export interface RateLimitConfig {
  readonly requestsPerSecond: number;
  readonly burst: number;
  /** One bucket per client address instead of one for everybody. */
  readonly perClient: boolean;
  /** Client buckets kept at most; the least recently seen go first. */
  readonly maxClients: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  readonly config: RateLimitConfig;
  readonly #now: () => number;
  readonly #shared: Bucket;
  readonly #clients = new Map<string, Bucket>();

  constructor(config: RateLimitConfig, now: () => number = Date.now) {
    this.config = config;
    this.#now = now;
    this.#shared = { tokens: config.burst, at: now() };
  }

  /** Takes a token for this client; undefined when allowed, else the seconds to wait. */
  take(client: string): number | undefined {
    const now = this.#now();
    const bucket = this.config.perClient ? this.#client(client, now) : this.#shared;
    const { requestsPerSecond: rate, burst } = this.config;
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / rate));
  }

  #client(client: string, now: number): Bucket {
    let b = this.#clients.get(client);
    if (b) {
      // Most recently seen last: the oldest is the first key.
      this.#clients.delete(client);
      this.#clients.set(client, b);
      return b;
    }
    if (this.#clients.size >= this.config.maxClients)
      this.#clients.delete(this.#clients.keys().next().value!);
    b = { tokens: this.config.burst, at: now };
    this.#clients.set(client, b);
    return b;
  }

  /** Client buckets held now (bounded by maxClients). */
  get clients(): number {
    return this.#clients.size;
  }
}
