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

/** Host header without port, lower case. */
function bareHost(host: string | undefined): string {
  if (!host) return '';
  const h = host.toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

function hostMatches(pattern: string | undefined, host: string): boolean {
  if (pattern === undefined || pattern === '*') return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return pattern === host;
}

/** `/api` matches `/api`, `/api/x` and `/api?q`, not `/apix`. */
function pathMatches(prefix: string, path: string): boolean {
  if (!path.startsWith(prefix)) return false;
  if (prefix.endsWith('/') || path.length === prefix.length) return true;
  const next = path[prefix.length];
  return next === '/' || next === '?';
}

export function matchRoute(
  routes: readonly RouteConfig[],
  hostHeader: string | undefined,
  url: string,
): RouteConfig | undefined {
  const host = bareHost(hostHeader);
  for (const r of routes) if (hostMatches(r.host, host) && pathMatches(r.pathPrefix, url)) return r;
  return undefined;
}

/** Applies a route's rewritePrefix to the request target. */
export function rewritePath(route: RouteConfig, url: string): string {
  if (route.rewritePrefix === undefined) return url;
  const rest = url.slice(route.pathPrefix.length);
  if (route.rewritePrefix.endsWith('/') && rest.startsWith('/')) return route.rewritePrefix + rest.slice(1);
  if (!route.rewritePrefix.endsWith('/') && rest !== '' && !rest.startsWith('/') && !rest.startsWith('?'))
    return `${route.rewritePrefix}/${rest}`;
  return route.rewritePrefix + rest;
}

export function routeLabel(route: RouteConfig): string {
  return `${route.host ?? '*'}${route.pathPrefix}`;
}
