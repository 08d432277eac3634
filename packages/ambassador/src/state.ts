// What a reload swaps in one assignment: the config, its pools and each listener's routes.
import { type AddressResolver, Discovery, type DiscoveryEvents } from './discovery.ts';
import { HealthChecker } from './health-check.ts';
import { AccessControl } from './http/access-control.ts';
import { OutboundCredentials } from './http/credentials.ts';
import { RateLimiter } from './http/rate-limit.ts';
import { Pool, type PoolEvents } from './pool.ts';
import type { ListenerConfig, ProxyConfig, RouteConfig } from './types.ts';

/** What guards a listener or a route: its access control and rate limit, with their state. */
export interface Guard {
  readonly access?: AccessControl;
  readonly limit?: RateLimiter;
}

export interface ProxyState {
  readonly config: ProxyConfig;
  readonly pools: ReadonlyMap<string, Pool>;
  readonly routes: ReadonlyMap<string, readonly RouteConfig[]>;
  readonly checkers: readonly HealthChecker[];
  /** Host-name upstreams kept resolved, per pool that has any. */
  readonly discoveries: readonly Discovery[];
  /** Access control and rate limits, by the listener or route config that declares them. */
  readonly guards: ReadonlyMap<ListenerConfig | RouteConfig, Guard>;
  /** Outbound credentials, by pool name. */
  readonly credentials: ReadonlyMap<string, OutboundCredentials>;
}

export function buildState(
  config: ProxyConfig,
  opts: {
    previous?: ProxyState;
    now?: () => number;
    events?: Partial<PoolEvents>;
    resolver?: AddressResolver;
    discoveryEvents?: Partial<DiscoveryEvents>;
    /** A Secret file that could not be re-read (the last good value stays). */
    onFileError?: (file: string, err: Error) => void;
  },
): ProxyState {
  const pools = new Map<string, Pool>();
  for (const [name, pc] of config.pools)
    pools.set(
      name,
      new Pool(pc, { now: opts.now, events: opts.events, previous: opts.previous?.pools.get(name) }),
    );
  const routes = new Map(config.listeners.map((l) => [l.name, l.routes]));
  const checkers = new Map([...pools.values()].map((p) => [p, new HealthChecker(p)]));
  const discoveries: Discovery[] = [];
  if (opts.resolver)
    for (const p of pools.values()) {
      const d = new Discovery(p, opts.resolver, {
        ...opts.discoveryEvents,
        changed(pool, name, added, removed) {
          checkers.get(pool)?.track(added);
          opts.discoveryEvents?.changed?.(pool, name, added, removed);
        },
      });
      if (d.names().length > 0) discoveries.push(d);
    }
  const guards = new Map<ListenerConfig | RouteConfig, Guard>();
  const guard = (x: ListenerConfig | RouteConfig) => {
    if (!x.access && !x.rateLimit) return;
    guards.set(x, {
      ...(x.access
        ? { access: new AccessControl(x.access, { now: opts.now, onFileError: opts.onFileError }) }
        : {}),
      ...(x.rateLimit ? { limit: new RateLimiter(x.rateLimit, opts.now) } : {}),
    });
  };
  for (const l of config.listeners) {
    guard(l);
    for (const r of l.routes) guard(r);
  }
  const credentials = new Map<string, OutboundCredentials>();
  for (const [name, pc] of config.pools)
    if (pc.credentials) credentials.set(name, new OutboundCredentials(pc.credentials, opts.onFileError));
  return { config, pools, routes, checkers: [...checkers.values()], discoveries, guards, credentials };
}
