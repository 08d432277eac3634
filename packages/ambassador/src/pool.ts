// A named pool of upstreams and what the proxy knows about each: in-flight count, active health
// (set by health-check.ts) and passive ejection after consecutive failures, with doubling back-off.
import { balancer, type Pick } from './balancer.ts';
import type { PoolConfig, UpstreamConfig } from './types.ts';

export class Upstream {
  readonly url: URL;
  /** As written in the config: the label in metrics and logs. */
  readonly name: string;
  readonly weight: number;
  readonly maxInFlight: number;
  readonly tls: boolean;
  inFlight = 0;
  currentWeight = 0;
  /** Active health: changed only by health checks (rise/fall). */
  healthy = true;
  checkStreak = 0;
  consecutiveFailures = 0;
  successStreak = 0;
  ejections = 0;
  ejectedUntil = 0;

  constructor(cfg: UpstreamConfig) {
    this.url = new URL(cfg.url);
    this.name = `${this.url.protocol}//${this.url.host}`;
    this.weight = cfg.weight;
    this.maxInFlight = cfg.maxInFlight;
    this.tls = this.url.protocol === 'https:' || this.url.protocol === 'tls:';
  }

  get host(): string {
    return this.url.hostname.replace(/^\[(.*)\]$/, '$1');
  }

  get port(): number {
    return Number(this.url.port) || (this.tls ? 443 : 80);
  }

  /** Up for metrics: healthy and not ejected. */
  up(now: number): boolean {
    return this.healthy && now >= this.ejectedUntil;
  }
}

export type PickResult = { upstream: Upstream } | { upstream?: undefined; reason: string };

export interface PoolEvents {
  ejected(pool: Pool, upstream: Upstream, forMs: number): void;
  healthChanged(pool: Pool, upstream: Upstream, healthy: boolean): void;
  /** A request went to an ejected upstream because every usable one was ejected. */
  panic(pool: Pool): void;
}

export class Pool {
  readonly config: PoolConfig;
  readonly upstreams: readonly Upstream[];
  readonly #pick: Pick;
  readonly #now: () => number;
  readonly #events: Partial<PoolEvents>;
  #retryTokens: number;
  readonly #retryCap = 10;

  constructor(
    config: PoolConfig,
    opts: { now?: () => number; events?: Partial<PoolEvents>; previous?: Pool } = {},
  ) {
    this.config = config;
    this.#now = opts.now ?? Date.now;
    this.#events = opts.events ?? {};
    this.#pick = balancer(config.balance);
    const before = new Map(opts.previous?.upstreams.map((u) => [u.url.href, u]));
    this.upstreams = config.upstreams.map((cfg) => {
      const u = new Upstream(cfg);
      const old = before.get(u.url.href);
      // A reload keeps what was learnt about an upstream that stays.
      if (old) {
        u.healthy = old.healthy;
        u.ejections = old.ejections;
        u.ejectedUntil = old.ejectedUntil;
      }
      return u;
    });
    this.#retryTokens = this.#retryCap;
  }

  get name(): string {
    return this.config.name;
  }

  /** Chooses an upstream, skipping `tried` ones; says why when none can take the request. */
  pick(tried?: ReadonlySet<Upstream>): PickResult {
    const now = this.#now();
    let up = 0;
    const candidates: Upstream[] = [];
    for (const u of this.upstreams) {
      if (!u.up(now) || tried?.has(u)) continue;
      up++;
      if (u.maxInFlight === 0 || u.inFlight < u.maxInFlight) candidates.push(u);
    }
    if (up === 0) {
      // Passive ejection never empties a pool (Envoy's panic mode; nginx never fails its last
      // server): when every upstream that passes its active checks is ejected, they all take
      // traffic again. Only active checks take a whole pool out.
      for (const u of this.upstreams) {
        if (!u.healthy || tried?.has(u)) continue;
        up++;
        if (u.maxInFlight === 0 || u.inFlight < u.maxInFlight) candidates.push(u);
      }
      if (candidates.length > 0) this.#events.panic?.(this);
    }
    const chosen = this.#pick(candidates);
    if (chosen) return { upstream: chosen };
    if (up > 0) return { reason: `all upstreams of pool "${this.name}" are at their in-flight limit` };
    return { reason: `no healthy upstream in pool "${this.name}"` };
  }

  /** Every request feeds the retry budget a little; a retry spends a whole token. */
  noteRequest(): void {
    this.#retryTokens = Math.min(this.#retryCap, this.#retryTokens + this.config.retryBudget);
  }

  takeRetry(): boolean {
    if (this.#retryTokens < 1) return false;
    this.#retryTokens -= 1;
    return true;
  }

  /** The request got an answer that is not a gateway failure. */
  succeeded(u: Upstream): void {
    u.consecutiveFailures = 0;
    if (u.ejections > 0 && ++u.successStreak >= Math.max(1, this.config.ejection.consecutiveFailures)) {
      u.ejections = 0;
      u.successStreak = 0;
    }
  }

  /** Connect error, reset, timeout or a malformed answer (and, without active checks, the upstream's
   * own 502/503/504): counts towards ejection. */
  failed(u: Upstream): void {
    u.successStreak = 0;
    const { consecutiveFailures, baseTime, maxTime } = this.config.ejection;
    if (consecutiveFailures === 0) return;
    if (++u.consecutiveFailures < consecutiveFailures) return;
    u.consecutiveFailures = 0;
    u.ejections++;
    const forMs = Math.min(maxTime, baseTime * 2 ** (u.ejections - 1));
    u.ejectedUntil = this.#now() + forMs;
    this.#events.ejected?.(this, u, forMs);
  }

  /** A health check result; flips `healthy` after rise passes or fall failures in a row. */
  checked(u: Upstream, ok: boolean): void {
    const hc = this.config.healthCheck;
    if (!hc) return;
    if (ok === u.healthy) {
      u.checkStreak = 0;
      return;
    }
    if (++u.checkStreak >= (ok ? hc.rise : hc.fall)) {
      u.healthy = ok;
      u.checkStreak = 0;
      if (ok) {
        // Back from the dead: forget passive history.
        u.ejectedUntil = 0;
        u.consecutiveFailures = 0;
      }
      this.#events.healthChanged?.(this, u, ok);
    }
  }
}
