// What a reload swaps in one assignment: the config, its pools and each listener's routes.
import { type AddressResolver, Discovery, type DiscoveryEvents } from './discovery.ts';
import { HealthChecker } from './health-check.ts';
import { Pool, type PoolEvents } from './pool.ts';
import type { ProxyConfig, RouteConfig } from './types.ts';

export interface ProxyState {
  readonly config: ProxyConfig;
  readonly pools: ReadonlyMap<string, Pool>;
  readonly routes: ReadonlyMap<string, readonly RouteConfig[]>;
  readonly checkers: readonly HealthChecker[];
  /** Host-name upstreams kept resolved, per pool that has any. */
  readonly discoveries: readonly Discovery[];
}

export function buildState(
  config: ProxyConfig,
  opts: {
    previous?: ProxyState;
    now?: () => number;
    events?: Partial<PoolEvents>;
    resolver?: AddressResolver;
    discoveryEvents?: Partial<DiscoveryEvents>;
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
  return { config, pools, routes, checkers: [...checkers.values()], discoveries };
}
