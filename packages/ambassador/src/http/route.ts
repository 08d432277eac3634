// Which route a request takes: by Host (exact, or `*.example.com` for subdomains) and by path
// prefix on the normalised path (see route-path.ts), first match wins; and the path the upstream
// gets when the route rewrites its prefix.
import type { RouteConfig } from '../types.ts';

/** Host header without port, lower case. */
export function bareHost(host: string | undefined): string {
  if (!host) return '';
  const h = host.toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

/** `*.example.com` matches `a.example.com` (not `example.com`); undefined and `*` match any host. */
export function hostMatches(pattern: string | undefined, host: string): boolean {
  if (pattern === undefined || pattern === '*') return true;
  if (pattern.startsWith('*.')) return host.length > pattern.length - 1 && host.endsWith(pattern.slice(1));
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
  path: string,
): RouteConfig | undefined {
  const host = bareHost(hostHeader);
  for (const r of routes) if (hostMatches(r.host, host) && pathMatches(r.pathPrefix, path)) return r;
  return undefined;
}

/** True when a route names this host explicitly (not by `*` or by having no host). */
export function routeNamesHost(routes: readonly RouteConfig[], host: string): boolean {
  return routes.some((r) => r.host !== undefined && r.host !== '*' && hostMatches(r.host, host));
}

/** Applies a route's rewritePrefix to the request target. */
export function rewritePath(route: RouteConfig, path: string): string {
  if (route.rewritePrefix === undefined) return path;
  const rest = path.slice(route.pathPrefix.length);
  if (route.rewritePrefix.endsWith('/') && rest.startsWith('/')) return route.rewritePrefix + rest.slice(1);
  if (!route.rewritePrefix.endsWith('/') && rest !== '' && !rest.startsWith('/') && !rest.startsWith('?'))
    return `${route.rewritePrefix}/${rest}`;
  return route.rewritePrefix + rest;
}

/** The route's label in logs: `host/prefix`. */
export function routeLabel(route: RouteConfig): string {
  return `${route.host ?? '*'}${route.pathPrefix}`;
}
