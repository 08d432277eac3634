// WebSocket upgrades: routed and balanced like any request, then handed to http-proxy-3's ws(),
// which relays the upgraded connection both ways. One connection per upgrade (no pooling: the
// connection becomes the tunnel).
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { rawResponse } from '@multipod/service';
import { ProxyServer } from 'http-proxy-3';
import { tlsConnectOptions } from '../tls.ts';
import { describeFailure } from './answers.ts';
import type { HttpDeps } from './listener.ts';
import { upstreamHeaders } from './request-headers.ts';
import { matchRoute, rewritePath, routeLabel } from './route.ts';
import { requestTarget } from './target.ts';

/** Only WebSocket leaves HTTP/1.1 here; any other Upgrade (h2c…) is ignored. */
export function isWebSocket(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  return typeof upgrade === 'string' && upgrade.toLowerCase() === 'websocket';
}

export function createWebSocketProxy(
  name: string,
  deps: HttpDeps,
  now: () => number,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const proxy = new ProxyServer({ xfwd: false, prependPath: false });

  return (req, socket, head) => {
    const state = deps.state();
    const routes = state.routes.get(name) ?? [];
    const refuse = (status: number, text: string, reason: string) => {
      deps.metrics.rejected.inc({ listener: name, reason });
      socket.end(rawResponse(status, `${status} ${text}\n`));
    };
    const target = requestTarget(req, routes);
    if (!target.ok)
      return refuse(400, `bad request: ${target.reason}`, target.openProxy ? 'open_proxy' : 'bad_request');
    const headers = upstreamHeaders(
      req,
      {
        trust: state.config.trustForwarded,
        proto: 'encrypted' in req.socket ? 'https' : 'http',
        requestId: state.config.requestId,
      },
      target.host,
    );
    if (!headers.ok) return refuse(headers.status, headers.reason, 'bad_request');
    const route = matchRoute(routes, headers.host, target.path);
    if (!route) return refuse(404, 'not found: no route', 'no_route');
    const pool = state.pools.get(route.pool)!;
    const picked = pool.pick();
    if (!picked.upstream) return refuse(503, `service unavailable: ${picked.reason}`, 'no_upstream');
    const u = picked.upstream;

    // The upgrade's own hop-by-hop pair goes back in; everything else as for any request.
    const out: OutgoingHttpHeaders = {};
    const h = headers.headers;
    for (let i = 0; i < h.length; i += 2) {
      const k = h[i]!.toLowerCase();
      const prior = out[k];
      out[k] = prior === undefined ? h[i + 1]! : `${prior}, ${h[i + 1]!}`;
    }
    if (pool.config.hostHeader === 'upstream') out.host = u.url.host;
    out.connection = 'upgrade';
    out.upgrade = 'websocket';
    (req as { headers: OutgoingHttpHeaders }).headers = out;
    const path = target.path;
    req.url = rewritePath(route, path);

    const start = now();
    u.inFlight++;
    let failed: string | undefined;
    socket.once('close', () => {
      u.inFlight--;
      const ms = now() - start;
      deps.metrics.request(name, u.name, failed ? 502 : 101, ms / 1000);
      deps.accessLog.write({
        listener: name,
        route: routeLabel(route),
        method: req.method,
        path,
        upstream: u.name,
        status: failed ? 502 : 101,
        bytes: 0,
        durationMs: Math.round(ms * 1000) / 1000,
        retries: 0,
        ...(failed ? { error: failed } : {}),
      });
    });
    const options = {
      target: u.url,
      secure: !pool.config.tls.insecure,
      ssl: u.tls ? tlsConnectOptions(u, pool.config.tls) : undefined,
    };
    proxy.ws(req, socket, head, options, (err) => {
      failed = describeFailure(err as NodeJS.ErrnoException).text;
      pool.failed(u);
      if (socket.writable) socket.end(rawResponse(502, `502 ${failed}\n`));
      else socket.destroy();
    });
  };
}
