// Service discovery by DNS: an upstream given by host name is resolved (A and AAAA) again and again,
// and every address becomes an upstream of its pool — so a headless Service's name spreads over its
// pods as they come and go, with no config edit. Re-resolved every resolveInterval, sooner when the
// records' TTL is shorter. A failed lookup keeps the last good addresses (and says so); the name,
// not the address, stays what TLS verifies and what `Host` carries.
import { promises as dns } from 'node:dns';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { discoverable, type Pool, type Upstream } from './pool.ts';

export interface Resolution {
  readonly addresses: string[];
  /** The shortest TTL of the records, when the resolver knows it. */
  readonly ttlMs?: number;
}

export interface AddressResolver {
  resolve(host: string): Promise<Resolution>;
}

/**
 * DNS through c-ares (resolv.conf's servers and search domains, with the records' TTL), then the
 * system's own lookup (the hosts file, a pod's hostAliases). Without explicit servers the DNS try
 * is short, so a pod whose names live only in /etc/hosts is not held up by an unreachable server.
 */
export function systemResolver(servers?: readonly string[], hostsFile = '/etc/hosts'): AddressResolver {
  const r = new dns.Resolver(servers ? { timeout: 2000, tries: 2 } : { timeout: 1000, tries: 1 });
  if (servers) r.setServers([...servers]);
  return {
    async resolve(host) {
      const [v4, v6] = await Promise.allSettled([
        r.resolve4(host, { ttl: true }),
        r.resolve6(host, { ttl: true }),
      ]);
      const records = [v4, v6].flatMap((x) => (x.status === 'fulfilled' ? x.value : []));
      if (records.length > 0)
        return {
          addresses: records.map((x) => x.address),
          ttlMs: Math.min(...records.map((x) => x.ttl)) * 1000,
        };
      // Names only the hosts file knows (a pod's hostAliases) are not in DNS. Read it directly:
      // glibc's lookup returns only the first line of a name listed several times.
      if (!servers) {
        const listed = hostsFileAddresses(host, hostsFile);
        if (listed.length > 0) return { addresses: listed };
        const local = await dns.lookup(host, { all: true }).catch(() => []);
        if (local.length > 0) return { addresses: local.map((a) => a.address) };
      }
      const err = v4.status === 'rejected' ? (v4.reason as NodeJS.ErrnoException) : undefined;
      throw Object.assign(new Error(`cannot resolve ${host}: ${err?.code ?? 'no A or AAAA record'}`), {
        code: err?.code ?? 'ENODATA',
      });
    },
  };
}

/** Every address a hosts file lists for the name (any of a line's names, case-insensitive). */
export function hostsFileAddresses(host: string, file = '/etc/hosts'): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const name = host.toLowerCase();
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (address && isIP(address) && names.some((n) => n.toLowerCase() === name)) out.push(address);
  }
  return out;
}

export interface DiscoveryEvents {
  changed(pool: Pool, name: string, added: readonly Upstream[], removed: readonly Upstream[]): void;
  resolved(pool: Pool, name: string, ok: boolean, error?: string): void;
}

export interface NameStatus {
  readonly pool: string;
  readonly name: string;
  readonly addresses: number;
  /** The last lookup failed: why (the last good addresses are still used). */
  readonly error?: string;
}

/** Keeps one pool's host-name upstreams resolved. */
export class Discovery {
  readonly #pool: Pool;
  readonly #resolver: AddressResolver;
  readonly #events: Partial<DiscoveryEvents>;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #status = new Map<string, NameStatus>();
  #stopped = false;

  constructor(pool: Pool, resolver: AddressResolver, events: Partial<DiscoveryEvents> = {}) {
    this.#pool = pool;
    this.#resolver = resolver;
    this.#events = events;
  }

  /** The host-name upstreams of the pool (configured URLs). */
  names(): string[] {
    return [...new Set(this.#pool.config.upstreams.map((u) => u.url).filter(discoverable))];
  }

  /** Resolves every name once (the returned promise), then keeps them resolved. */
  start(): Promise<void> {
    return Promise.all(
      this.names().map((url) => this.#resolveOnce(url).then((next) => this.#schedule(url, next))),
    ).then(() => {});
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  status(): NameStatus[] {
    return [...this.#status.values()];
  }

  #schedule(url: string, delay: number): void {
    if (this.#stopped) return;
    const t = setTimeout(() => {
      this.#timers.delete(t);
      void this.#resolveOnce(url).then((next) => this.#schedule(url, next));
    }, delay);
    t.unref();
    this.#timers.add(t);
  }

  /** One lookup of one name; resolves with the delay until the next. */
  async #resolveOnce(url: string): Promise<number> {
    const pool = this.#pool;
    const interval = pool.config.resolveInterval;
    const host = new URL(url).hostname;
    try {
      const { addresses, ttlMs } = await this.#resolver.resolve(host);
      if (this.#stopped) return interval;
      const unique = [...new Set(addresses)].sort();
      const { added, removed } = pool.setAddresses(url, unique);
      this.#status.set(url, { pool: pool.name, name: host, addresses: unique.length });
      this.#events.resolved?.(pool, host, true);
      if (added.length > 0 || removed.length > 0) this.#events.changed?.(pool, host, added, removed);
      // Sooner when the records say so, never busier than once a second.
      return Math.max(1000, Math.min(interval, ttlMs ?? interval));
    } catch (err) {
      const message = (err as Error).message;
      const kept = pool.upstreams.filter((u) => u.url.href === new URL(url).href).length;
      this.#status.set(url, { pool: pool.name, name: host, addresses: kept, error: message });
      this.#events.resolved?.(pool, host, false, message);
      return Math.min(interval, 5000);
    }
  }
}
