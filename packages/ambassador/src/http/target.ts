// The first step of every request: the request target as the routes see it. Origin-form targets
// (`/a?b`) are normalised (route-path.ts); absolute-form ones (`http://host/a`, what clients send to
// a forward proxy) are accepted only when they name this listener itself or a host a route names
// explicitly — this is not an open proxy — and their authority then replaces Host (RFC 9112 §3.2.2).
import type { IncomingMessage } from 'node:http';
import type { RouteConfig } from '../types.ts';
import { routeNamesHost } from './route.ts';
import { normaliseTarget } from './route-path.ts';

export type Target =
  | {
      readonly ok: true;
      /** Normalised path plus the query: what routes match and the upstream gets. */
      readonly path: string;
      /** The authority of an absolute-form target, which wins over the Host header. */
      readonly host?: string;
    }
  | { readonly ok: false; readonly status: 400; readonly reason: string; readonly openProxy: boolean };

export function requestTarget(req: IncomingMessage, routes: readonly RouteConfig[]): Target {
  const url = req.url ?? '/';
  let originForm = url;
  let host: string | undefined;
  if (url.charCodeAt(0) !== 47 /* '/' */) {
    const absolute = parseAbsolute(url);
    if (!absolute || !(namesListener(absolute, req) || routeNamesHost(routes, absolute.hostname)))
      return {
        ok: false,
        status: 400,
        reason: 'absolute-form targets naming another host are refused (not an open proxy)',
        openProxy: true,
      };
    originForm = absolute.originForm;
    host = absolute.host;
  }
  const n = normaliseTarget(originForm);
  if (!n.ok) return { ok: false, status: 400, reason: n.reason, openProxy: false };
  return { ok: true, path: n.path + n.query, host };
}

interface Absolute {
  readonly host: string;
  readonly hostname: string;
  readonly port: number;
  readonly originForm: string;
}

function parseAbsolute(target: string): Absolute | undefined {
  // Only http(s) and only the scheme's own syntax: `*` (OPTIONS) and authority-form never get here
  // as anything but refusals.
  if (!/^https?:\/\//i.test(target)) return undefined;
  let u: URL;
  try {
    u = new URL(target);
  } catch {
    return undefined;
  }
  if (u.username || u.password) return undefined;
  // Keep the path as sent (URL would have resolved dot segments and re-encoded): the normaliser
  // decides, as for origin-form targets.
  const rest = /^https?:\/\/[^/?#]*(.*)$/is.exec(target)![1]!;
  if (rest.startsWith('#')) return undefined;
  const originForm = rest.startsWith('/') ? rest : `/${rest}`;
  const port = Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
  return { host: u.host, hostname: u.hostname.toLowerCase(), port, originForm };
}

/** The target names the address and port this connection came in on (or localhost on that port). */
function namesListener(a: Absolute, req: IncomingMessage): boolean {
  const local = req.socket.localAddress ?? '';
  const localHost = local.startsWith('::ffff:') ? local.slice(7) : local;
  const name = a.hostname.replace(/^\[(.*)\]$/, '$1');
  return a.port === req.socket.localPort && (name === localHost || name === 'localhost');
}
