// An HTTP listener, as a list of steps each request goes through:
//
//   version → target → headers → route → pick upstream → forward (retry loop) → account
//
// Any step may end the request with its own answer (400/404/501/503, or 502/504 after the last
// attempt); `account` runs once for every request, however it ended. WebSocket upgrades take their
// own path (websocket.ts); other Upgrade headers (h2c) are ignored and the request is answered as
// HTTP/1.1, as nginx does.
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { afterClose, type Logger, rawResponse, refusalFor, refuseVersion } from '@multipod/service';
import type { AccessLog } from '../access-log.ts';
import type { Metrics } from '../metrics.ts';
import type { Pool, Upstream } from '../pool.ts';
import type { Guard, ProxyState } from '../state.ts';
import type { TlsTerminator } from '../tls-terminate.ts';
import type { ListenerConfig } from '../types.ts';
import { IDENTITY_HEADER } from './access-control.ts';
import { describeFailure, plain } from './answers.ts';
import { forward, type ResponseHeaderPolicy } from './forward.ts';
import { applyOps, type HeaderContext } from './header-policy.ts';
import { upstreamHeaders } from './request-headers.ts';
import { bareHost, matchRoute, rewritePath, routeLabel } from './route.ts';
import { requestTarget } from './target.ts';
import type { UpstreamClients } from './upstream-clients.ts';
import { createWebSocketProxy, isWebSocket } from './websocket.ts';

export interface HttpDeps {
  state(): ProxyState;
  metrics: Metrics;
  accessLog: AccessLog;
  log: Logger;
  clients: UpstreamClients;
  clientIdleTimeout: number;
  /** Terminates TLS on this listener (its certificates, reloaded in place). */
  tls?: TlsTerminator;
  now?: () => number;
}

export interface HttpListener {
  readonly server: Server;
  /** From now on responses ask clients to close their connection. */
  drain(): void;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** One client request across its attempts. */
interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly start: number;
  readonly method: string;
  /** As the client sent it, for the access log. */
  readonly path: string;
  route: string | undefined;
  pool: Pool | undefined;
  upstreamPath: string;
  headers: string[];
  hasBody: boolean;
  requestId: string;
  /** Header policy for the response, when the pool or route has one. */
  responseHeaders: ResponseHeaderPolicy | undefined;
  upstream: Upstream | undefined;
  /** The current attempt's upstream counts this request in flight. */
  holding: boolean;
  tried: Set<Upstream> | undefined;
  retries: number;
  status: number;
  bytes: number;
  error: string | undefined;
  /** The client is gone or the answer is complete: no more attempts, no more answers. */
  over: boolean;
  abort: ((reason: Error) => void) | undefined;
}

export function createHttpListener(listener: ListenerConfig, deps: HttpDeps): HttpListener {
  const now = deps.now ?? performance.now.bind(performance);
  const name = listener.name;
  const proto = listener.tls ? 'https' : 'http';
  let draining = false;

  // ---- the steps -------------------------------------------------------------------------

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const ex = newExchange(req, res);
    res.once('close', () => account(ex));
    const state = deps.state();
    const routes = state.routes.get(name) ?? [];

    const version = refuseVersion(req.httpVersionMajor, req.httpVersionMinor);
    if (version) return refuse(ex, version.status, version.reason, 'bad_request');

    const target = requestTarget(req, routes);
    if (!target.ok)
      return refuse(
        ex,
        400,
        `bad request: ${target.reason}`,
        target.openProxy ? 'open_proxy' : 'bad_request',
      );

    const headers = upstreamHeaders(
      req,
      { trust: state.config.trustForwarded, proto, requestId: state.config.requestId },
      target.host,
    );
    if (!headers.ok)
      return refuse(
        ex,
        headers.status,
        `${headers.status === 501 ? 'not implemented' : 'bad request'}: ${headers.reason}`,
        'bad_request',
      );

    ex.hasBody = headers.hasBody;
    ex.requestId = headers.requestId;
    ex.headers = headers.headers;
    const clientIp = headers.clientIp;

    const listenerConfig = state.config.listeners.find((l) => l.name === name);
    guarded(ex, state.guards.get(listenerConfig!), clientIp, '', () => {
      const route = matchRoute(routes, headers.host, target.path);
      if (!route)
        return refuse(
          ex,
          404,
          `not found: no route for ${headers.host ?? ''}${target.path.split('?', 1)[0]}`,
          'no_route',
        );
      ex.route = routeLabel(route);
      guarded(ex, state.guards.get(route), clientIp, ex.route, () => {
        const pool = state.pools.get(route.pool)!;
        ex.pool = pool;
        ex.upstreamPath = rewritePath(route, target.path);
        if (pool.config.hostHeader === 'upstream') replaceHost(ex.headers, undefined);
        if (route.rewritePrefix === '/' && route.pathPrefix !== '/')
          ex.headers.push('x-forwarded-prefix', route.pathPrefix.replace(/\/$/, ''));
        // Header policy: the pool's, then the route's (the more specific one wins a `set`).
        const policies = [pool.config.headers, route.headers].filter((p) => p !== undefined);
        if (policies.length > 0) {
          const ctx: HeaderContext = {
            client_ip: clientIp,
            request_id: headers.requestId,
            host: headers.host ?? '',
            scheme: proto,
          };
          for (const p of policies) if (p.request) applyOps(ex.headers, p.request, ctx);
          const response = policies.flatMap((p) => (p.response ? [p.response] : []));
          if (response.length > 0) ex.responseHeaders = { ops: response, ctx };
        }
        // The pool's own credential, last: nothing the app or a policy sent can replace it.
        state.credentials.get(pool.name)?.apply(ex.headers);

        pool.noteRequest();
        const picked = pool.pick();
        if (!picked.upstream) return refuse(ex, 503, `service unavailable: ${picked.reason}`, 'no_upstream');
        attempt(ex, picked.upstream);
      });
    });
  };

  /**
   * A listener's or route's guard: its rate limit (cheap, first: it also bounds guessing), then
   * its access control (may wait for bcrypt or a signature check). `next` runs when both pass.
   */
  const guarded = (
    ex: Exchange,
    guard: Guard | undefined,
    clientIp: string,
    route: string,
    next: () => void,
  ) => {
    if (!guard) return next();
    if (guard.limit) {
      const wait = guard.limit.take(clientIp);
      if (wait !== undefined) {
        deps.metrics.rateLimited.inc({ listener: name, route });
        return refuse(ex, 429, 'too many requests: over the rate limit', 'rate_limited', {
          'retry-after': String(wait),
        });
      }
    }
    if (!guard.access) return next();
    guard.access
      .check(clientIp, headerValue(ex.headers, 'authorization'))
      .then((verdict) => {
        if (ex.over) return;
        if (!verdict.ok) {
          deps.metrics.accessDenied.inc({ listener: name, reason: verdict.reason });
          return refuse(ex, verdict.status, verdict.text, 'access_denied', verdict.headers);
        }
        // Who passed, in a header the client cannot set itself.
        removeHeader(ex.headers, IDENTITY_HEADER);
        if (verdict.identity !== undefined) ex.headers.push(IDENTITY_HEADER, verdict.identity);
        next();
      })
      .catch((err: Error) => {
        deps.log.error({ listener: name, err: err.message }, 'access check failed');
        if (!ex.over) refuse(ex, 500, 'internal error: the access check failed', 'access_denied');
      });
  };

  const attempt = (ex: Exchange, u: Upstream) => {
    const pool = ex.pool!;
    ex.upstream = u;
    ex.holding = true;
    u.inFlight++;
    if (pool.config.hostHeader === 'upstream') replaceHost(ex.headers, u.url.host);
    ex.abort = forward(
      deps.clients.get(u, pool.config),
      {
        method: ex.method,
        path: ex.upstreamPath,
        headers: ex.headers,
        body: ex.hasBody ? ex.req : null,
        readTimeout: pool.config.readTimeout,
        close: draining,
        responseHeaders: ex.responseHeaders,
      },
      ex.res,
      {
        failed: (err) => failed(ex, u, err),
        head: (status) => {
          ex.status = status;
          // An upstream's own 502/503/504 may be about one path; with active checks, they decide.
          if (status >= 502 && status <= 504 && !pool.config.healthCheck) pool.failed(u);
          else pool.succeeded(u);
        },
        done: (bytes) => {
          ex.bytes = bytes;
          release(ex);
        },
        cut: (err, bytes) => {
          ex.bytes = bytes;
          const code = (err as NodeJS.ErrnoException).code;
          ex.error = ex.over
            ? 'client closed the connection'
            : code === 'UND_ERR_BODY_TIMEOUT'
              ? 'upstream read timeout mid-response'
              : 'upstream closed mid-response';
          if (!ex.over) pool.failed(u);
          release(ex);
        },
      },
    );
  };

  /** Nothing reached the client: retry elsewhere when safe and affordable, else answer. */
  const failed = (ex: Exchange, u: Upstream, err: Error) => {
    release(ex);
    if (ex.over) {
      ex.error ??= 'client closed the connection';
      return;
    }
    const pool = ex.pool!;
    pool.failed(u);
    const failure = describeFailure(err as NodeJS.ErrnoException);
    const retryable = IDEMPOTENT.has(ex.method) && !ex.hasBody && ex.retries < pool.config.retries;
    if (retryable) {
      ex.tried ??= new Set();
      ex.tried.add(u);
      // Only when another upstream can take it, and the pool's retry budget allows.
      const next = pool.pick(ex.tried).upstream;
      if (next && pool.takeRetry()) {
        ex.retries++;
        deps.metrics.retries.inc({ listener: name, pool: pool.name });
        deps.log.debug(
          { upstream: u.name, err: failure.text, retry: ex.retries },
          'retrying on another upstream',
        );
        attempt(ex, next);
        return;
      }
    }
    answer(ex, failure.status, failure.text);
  };

  /** Runs once per request when the client's response ends, however it ended. */
  const account = (ex: Exchange) => {
    const complete = ex.res.writableFinished;
    if (!ex.over) {
      ex.over = true;
      if (!complete) ex.abort?.(new Error('client closed the connection'));
    }
    release(ex);
    const status = complete ? ex.status : ex.status === 0 ? 499 : ex.status;
    const upstream = ex.upstream?.name ?? 'none';
    const ms = now() - ex.start;
    deps.metrics.request(name, upstream, status, ms / 1000);
    deps.accessLog.write({
      listener: name,
      route: ex.route,
      method: ex.method,
      path: ex.path,
      upstream,
      status: complete ? status : `${status} (aborted)`,
      bytes: ex.bytes,
      durationMs: Math.round(ms * 1000) / 1000,
      retries: ex.retries,
      ...(ex.requestId ? { requestId: ex.requestId } : {}),
      ...(ex.error ? { error: ex.error } : {}),
    });
  };

  // ---- helpers of the steps ---------------------------------------------------------------

  const newExchange = (req: IncomingMessage, res: ServerResponse): Exchange => ({
    req,
    res,
    start: now(),
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    route: undefined,
    pool: undefined,
    upstreamPath: '/',
    headers: [],
    hasBody: false,
    requestId: '',
    responseHeaders: undefined,
    upstream: undefined,
    holding: false,
    tried: undefined,
    retries: 0,
    status: 0,
    bytes: 0,
    error: undefined,
    over: false,
    abort: undefined,
  });

  const release = (ex: Exchange) => {
    if (ex.holding && ex.upstream) {
      ex.upstream.inFlight--;
      ex.holding = false;
    }
  };

  const answer = (
    ex: Exchange,
    status: number,
    text: string,
    close = false,
    headers: Record<string, string> = {},
  ) => {
    ex.status = status;
    ex.error = text;
    if (ex.res.headersSent) {
      ex.res.destroy();
      return;
    }
    // A request body nobody read would be taken for the next request: close instead.
    plain(ex.res, status, text, close || draining || (ex.hasBody && !ex.req.complete), headers);
  };

  /** A request refused before any upstream; a malformed one also ends its connection (as nginx). */
  const refuse = (
    ex: Exchange,
    status: number,
    text: string,
    reason: string,
    headers?: Record<string, string>,
  ) => {
    deps.metrics.rejected.inc({ listener: name, reason });
    answer(ex, status, text, status === 400 || status === 501 || status === 505, headers);
  };

  /** A plain-HTTP listener that only sends clients to HTTPS (308 keeps the method and body). */
  const redirect = (req: IncomingMessage, res: ServerResponse) => {
    const ex = newExchange(req, res);
    res.once('close', () => account(ex));
    const host = bareHost(req.headers.host);
    if (!/^(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])$/.test(host))
      return refuse(ex, 400, 'bad request: a Host header is needed to redirect to https', 'bad_request');
    const target = requestTarget(req, []);
    const path = target.ok ? target.path : '/';
    const port = listener.redirectToHttps === 443 ? '' : `:${listener.redirectToHttps}`;
    ex.status = 308;
    res.writeHead(308, { location: `https://${host}${port}${path}`, 'content-length': 0 });
    res.end();
  };

  // ---- the server -------------------------------------------------------------------------

  const options: ServerOptions = {
    keepAliveTimeout: deps.clientIdleTimeout,
    requestTimeout: 0,
    headersTimeout: 30_000,
    // Only WebSocket upgrades leave HTTP; `Upgrade: h2c` (curl --http2) is answered as HTTP/1.1.
    shouldUpgradeCallback: isWebSocket,
  };
  const handler = listener.redirectToHttps !== undefined ? redirect : handle;
  const server: Server = deps.tls
    ? createHttpsServer({ ...options, ...deps.tls.serverOptions(['http/1.1']) }, handler)
    : createServer(options, handler);
  if (deps.tls) {
    deps.tls.attach(server as unknown as { setSecureContext(o: object): void });
    // Failed handshakes (no shared protocol or cipher, a client certificate refused…) never reach
    // a handler: counted here, with the reason in the debug log.
    server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
      deps.metrics.tlsHandshakeErrors.inc({ listener: name });
      deps.log.debug({ listener: name, code: err.code, err: err.message }, 'TLS handshake failed');
    });
  }

  server.on('upgrade', createWebSocketProxy(name, deps, now));

  // Malformed or smuggling-shaped requests (conflicting Content-Length / Transfer-Encoding…):
  // Node's parser refuses them; they are answered and closed before any upstream sees them.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (afterClose(err)) return; // the request before them still gets its answer, then the close
    const refusal = refusalFor(err);
    if (!refusal || !socket.writable) {
      socket.destroy();
      return;
    }
    deps.metrics.rejected.inc({ listener: name, reason: 'bad_request' });
    deps.log.debug({ listener: name, code: err.code }, 'refused a malformed request');
    socket.end(rawResponse(refusal.status, `${refusal.status} ${refusal.reason}\n`));
  });

  // CONNECT would make this an open proxy.
  server.on('connect', (_req, socket: Duplex) => {
    deps.metrics.rejected.inc({ listener: name, reason: 'open_proxy' });
    socket.end(
      rawResponse(405, '405 CONNECT is refused (not an open proxy)\n', {
        allow: 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS',
      }),
    );
  });

  const active = deps.metrics.activeConnections.labels(name);
  server.on('connection', (socket) => {
    active.inc();
    socket.once('close', () => active.dec());
  });

  return {
    server,
    drain() {
      draining = true;
    },
  };
}

/** The first value of a header in a flat header list (names compared case-insensitively). */
function headerValue(headers: string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() === name) return headers[i + 1];
  return undefined;
}

function removeHeader(headers: string[], name: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2)
    if (headers[i]!.toLowerCase() === name) headers.splice(i, 2);
}

/** Sets (or, with undefined, removes) the Host header in a flat header list. */
function replaceHost(headers: string[], host: string | undefined): void {
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i] === 'host') {
      if (host === undefined) headers.splice(i, 2);
      else headers[i + 1] = host;
      return;
    }
  if (host !== undefined) headers.push('host', host);
}
