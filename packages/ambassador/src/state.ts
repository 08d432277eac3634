// What a reload swaps in one assignment: the config, its pools and each listener's routes.
import { HealthChecker } from './health-check.ts';
import { Pool, type PoolEvents } from './pool.ts';
import type { ProxyConfig, RouteConfig } from './types.ts';

export interface ProxyState {
  readonly config: ProxyConfig;
  readonly pools: ReadonlyMap<string, Pool>;
  readonly routes: ReadonlyMap<string, readonly RouteConfig[]>;
  readonly checkers: readonly HealthChecker[];
}

export function buildState(
  config: ProxyConfig,
  opts: { previous?: ProxyState; now?: () => number; events?: Partial<PoolEvents> },
): ProxyState {
  const pools = new Map<string, Pool>();
  for (const [name, pc] of config.pools)
    pools.set(
      name,
      new Pool(pc, { now: opts.now, events: opts.events, previous: opts.previous?.pools.get(name) }),
    );
  const routes = new Map(config.listeners.map((l) => [l.name, l.routes]));
  const checkers = [...pools.values()].map((p) => new HealthChecker(p));
  return { config, pools, routes, checkers };
}
