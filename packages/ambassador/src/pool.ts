// A named pool of upstreams and what the proxy knows about each: in-flight count, active health
// (set by health-check.ts) and passive ejection after consecutive failures, with doubling back-off.
import { isIP } from 'node:net';
import { balancer, type Pick } from './balancer.ts';
import type { PoolConfig, UpstreamConfig } from './types.ts';

export class Upstream {
  /** As written in the config: its host is the name for SNI, certificates and `Host`. */
  readonly url: URL;
  /** The label in metrics and logs: the URL as configured, or with the address it resolved to. */
  readonly name: string;
  /** The address a host name resolved to (discovery); undefined: connect to the host itself. */
  readonly address: string | undefined;
  readonly config: UpstreamConfig;
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

  constructor(cfg: UpstreamConfig, address?: string) {
    this.config = cfg;
    this.url = new URL(cfg.url);
    this.address = address;
    this.weight = cfg.weight;
    this.maxInFlight = cfg.maxInFlight;
    this.tls = this.url.protocol === 'https:' || this.url.protocol === 'tls:';
    const at =
      address === undefined
        ? this.url.host
        : `${address.includes(':') ? `[${address}]` : address}:${this.port}`;
    this.name = `${this.url.protocol}//${at}`;
  }

  /** The configured host name (or address), without IPv6 brackets. */
  get host(): string {
    return this.url.hostname.replace(/^\[(.*)\]$/, '$1');
  }

  /** Where to connect: the resolved address, or the configured host. */
  get connectHost(): string {
    return this.address ?? this.host;
  }

  /** Identity across reloads and re-resolutions: the configured URL and the address. */
  get key(): string {
    return `${this.url.href}|${this.address ?? ''}`;
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
  #upstreams: Upstream[];
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
    this.#upstreams = [];
    const previous = opts.previous?.upstreams ?? [];
    for (const cfg of config.upstreams) {
      // A discovered name keeps the addresses it had until it is resolved again; before its first
      // resolution it is one upstream connected to by name, as without discovery.
      const addresses = previous.filter((u) => u.url.href === new URL(cfg.url).href).map((u) => u.address);
      const list = addresses.length > 0 ? addresses : [undefined];
      for (const address of list) this.#upstreams.push(this.#carry(new Upstream(cfg, address), previous));
    }
    this.#retryTokens = this.#retryCap;
  }

  get name(): string {
    return this.config.name;
  }

  get upstreams(): readonly Upstream[] {
    return this.#upstreams;
  }

  /** A new Upstream takes over what was learnt about the same one before (reload, re-resolution). */
  #carry(u: Upstream, before: readonly Upstream[]): Upstream {
    const old = before.find((b) => b.key === u.key);
    if (old) {
      u.healthy = old.healthy;
      u.ejections = old.ejections;
      u.ejectedUntil = old.ejectedUntil;
    }
    return u;
  }

  /**
   * The addresses a configured host name resolves to now: addresses that stay keep their object
   * (in flight, health, ejection), new ones join, gone ones leave — no new request goes to them.
   * Returns what changed.
   */
  setAddresses(url: string, addresses: readonly string[]): { added: Upstream[]; removed: Upstream[] } {
    const href = new URL(url).href;
    const cfg = this.config.upstreams.find((c) => new URL(c.url).href === href);
    if (!cfg) return { added: [], removed: [] };
    const current = this.#upstreams.filter((u) => u.url.href === href);
    const wanted = new Set(addresses);
    const removed = current.filter((u) => u.address === undefined || !wanted.has(u.address));
    const have = new Set(current.map((u) => u.address));
    const added = addresses.filter((a) => !have.has(a)).map((a) => new Upstream(cfg, a));
    if (removed.length === 0 && added.length === 0) return { added, removed };
    const gone = new Set(removed);
    this.#upstreams = [...this.#upstreams.filter((u) => !gone.has(u)), ...added];
    return { added, removed };
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

/** A host name other than localhost: its addresses are resolved and each becomes an upstream. */
export function discoverable(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  return isIP(host) === 0 && host !== 'localhost';
}
