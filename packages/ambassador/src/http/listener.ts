// An HTTP listener, as a list of steps each request goes through:
//
//   version → target → headers → route → pick upstream → forward (retry loop) → account
//
// Any step may end the request with its own answer (400/404/501/503, or 502/504 after the last
// attempt; a gRPC call gets the matching gRPC status instead); `account` runs once for every
// request, however it ended. Clients speak HTTP/1.1, or HTTP/2 over TLS (ALPN) or cleartext
// (`protocol: h2c`); the steps are the same. WebSocket upgrades take their own path
// (websocket.ts); other Upgrade headers (h2c) are ignored and the request is answered as HTTP/1.1,
// as nginx does.
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  ServerResponse,
} from 'node:http';
import {
  createServer as createH2cServer,
  createSecureServer as createH2Server,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  afterClose,
  closeServer,
  type Logger,
  rawResponse,
  refusalFor,
  refuseVersion,
} from '@multipod/service';
import type { AccessLog } from '../access-log.ts';
import type { Metrics } from '../metrics.ts';
import type { Pool, Upstream } from '../pool.ts';
import type { Guard, ProxyState } from '../state.ts';
import type { TlsTerminator } from '../tls-terminate.ts';
import type { ListenerConfig } from '../types.ts';
import { IDENTITY_HEADER } from './access-control.ts';
import { describeFailure, plain } from './answers.ts';
import {
  type ClientRequest,
  type ClientResponse,
  DeadlineExceeded,
  forward,
  type ResponseHeaderPolicy,
} from './forward.ts';
import { GRPC, grpcAnswer, grpcStatusFor, isGrpc, parseGrpcTimeout } from './grpc.ts';
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
  /** What binds the port: an HTTP/1.1 server, or an HTTP/2 one (with HTTP/1.1 too over TLS). */
  readonly server: NetServer;
  /** From now on responses ask clients to close their connection; HTTP/2 clients get GOAWAY. */
  drain(): void;
  /** Stops accepting, lets requests in flight finish, closes idle connections. */
  close(): Promise<void>;
  /** Cuts every connection still open (the grace period is over). */
  cut(): void;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
/** Failures that leave the request unsent: no upstream ever saw it. */
const CONNECT_FAILURES = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** One client request across its attempts. */
interface Exchange {
  readonly req: ClientRequest;
  readonly res: ClientResponse;
  /** An HTTP/2 client (no Connection header, no keep-alive of its own). */
  readonly h2: boolean;
  /** A gRPC call (content-type application/grpc…): failures are answered as gRPC statuses. */
  grpc: boolean;
  grpcStatus: number | undefined;
  /** Answered by the ambassador with a trailers-only gRPC response. */
  trailersOnly: boolean;
  /** The caller's gRPC deadline, ended by aborting the attempt. */
  deadline: NodeJS.Timeout | undefined;
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

  const handle = (req: ClientRequest, res: ClientResponse) => {
    const ex = newExchange(req, res);
    res.once('close', () => account(ex));
    const state = deps.state();
    const routes = state.routes.get(name) ?? [];

    if (!ex.h2) {
      const version = refuseVersion(req.httpVersionMajor, req.httpVersionMinor);
      if (version) return refuse(ex, version.status, version.reason, 'bad_request');
    } else if (req.method === 'CONNECT')
      return refuse(ex, 405, 'method not allowed: CONNECT is refused (not an open proxy)', 'open_proxy');

    const target = requestTarget(req as IncomingMessage, routes);
    if (!target.ok)
      return refuse(
        ex,
        400,
        `bad request: ${target.reason}`,
        target.openProxy ? 'open_proxy' : 'bad_request',
      );

    const headers = upstreamHeaders(
      req as IncomingMessage,
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

    // HTTP/2 says "no body" by ending the stream with the headers, not by a length.
    ex.hasBody = ex.h2 ? !(req as Http2ServerRequest).stream.endAfterHeaders : headers.hasBody;
    ex.requestId = headers.requestId;
    ex.headers = headers.headers;
    ex.grpc = ex.h2 && isGrpc(headerValue(ex.headers, 'content-type'));
    if (ex.grpc) {
      // The caller's deadline, passed on as it came, and kept here too: past it the call ends
      // DEADLINE_EXCEEDED whatever the upstream does.
      const deadlineMs = parseGrpcTimeout(headerValue(ex.headers, 'grpc-timeout'));
      if (deadlineMs !== undefined)
        ex.deadline = setTimeout(
          () => {
            ex.deadline = undefined;
            const reason = new DeadlineExceeded('deadline exceeded');
            if (ex.abort) ex.abort(reason);
            else if (!ex.over)
              grpcRefuse(ex, GRPC.DEADLINE_EXCEEDED, 'deadline exceeded before an upstream answered');
          },
          Math.max(1, deadlineMs),
        );
    }
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
        // gRPC needs `te: trailers` upstream; to an HTTP/1.1 upstream TE is hop-by-hop.
        if (headers.teTrailers && pool.config.protocol !== 'http1') ex.headers.push('te', 'trailers');
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
        headersTimeout: pool.config.readTimeout,
        // A gRPC stream may rightly stay silent for long: only its deadline bounds it.
        bodyTimeout: ex.grpc ? 0 : pool.config.readTimeout,
        close: draining,
        grpc: ex.grpc,
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
        done: (bytes, grpcStatus) => {
          ex.bytes = bytes;
          ex.grpcStatus = grpcStatus;
          release(ex);
        },
        cut: (err, bytes, grpcStatus) => {
          ex.bytes = bytes;
          ex.grpcStatus = grpcStatus;
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
    if (err instanceof DeadlineExceeded)
      return grpcRefuse(ex, GRPC.DEADLINE_EXCEEDED, 'deadline exceeded before the upstream answered');
    pool.failed(u);
    const failure = describeFailure(err as NodeJS.ErrnoException);
    // Safe to send again: an idempotent request without a body, or any request that never left
    // (the connection failed, no byte of its body was read).
    const neverSent =
      CONNECT_FAILURES.has((err as NodeJS.ErrnoException).code ?? '') && !ex.req.readableDidRead;
    const retryable =
      ((IDEMPOTENT.has(ex.method) && !ex.hasBody) || neverSent) && ex.retries < pool.config.retries;
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
    if (ex.deadline) clearTimeout(ex.deadline);
    // A trailers-only gRPC answer ends the HTTP/2 stream itself, not through the response object.
    const complete = ex.trailersOnly || (ex.res.writableFinished && !resetByClient(ex));
    if (!ex.over) {
      ex.over = true;
      if (!complete) ex.abort?.(new Error('client closed the connection'));
    }
    release(ex);
    const status = complete ? ex.status : ex.status === 0 ? 499 : ex.status;
    const upstream = ex.upstream?.name ?? 'none';
    const ms = now() - ex.start;
    deps.metrics.request(name, upstream, status, ms / 1000);
    if (ex.grpc)
      deps.metrics.grpcRequests.inc({
        listener: name,
        upstream,
        grpc_status: ex.grpcStatus === undefined ? (complete ? 'none' : 'cancelled') : String(ex.grpcStatus),
      });
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
      ...(ex.grpcStatus !== undefined ? { grpcStatus: ex.grpcStatus } : {}),
      ...(ex.error ? { error: ex.error } : {}),
    });
  };

  // ---- helpers of the steps ---------------------------------------------------------------

  const newExchange = (req: ClientRequest, res: ClientResponse): Exchange => ({
    req,
    res,
    // By the response object, not the request line: an HTTP/1 client can write "HTTP/2.0" too.
    h2: 'stream' in res,
    grpc: false,
    grpcStatus: undefined,
    trailersOnly: false,
    deadline: undefined,
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
    if (ex.grpc) return grpcRefuse(ex, grpcStatusFor(status), text, status);
    ex.status = status;
    ex.error = text;
    if (ex.res.headersSent) {
      ex.res.destroy();
      return;
    }
    // A request body nobody read would be taken for the next request: close instead (HTTP/1;
    // an HTTP/2 stream ends alone).
    const closeIt = !ex.h2 && (close || draining || (ex.hasBody && !ex.req.complete));
    plain(ex.res as ServerResponse, status, text, closeIt, headers);
  };

  /** A gRPC call the ambassador ends itself: HTTP 200, the status in a trailers-only answer. */
  const grpcRefuse = (ex: Exchange, grpcStatus: number, text: string, httpStatus?: number) => {
    ex.status = 200;
    ex.grpcStatus = grpcStatus;
    ex.error = httpStatus ? `${httpStatus} ${text}` : text;
    if (ex.res.headersSent) {
      ex.res.addTrailers({ 'grpc-status': String(grpcStatus), 'grpc-message': encodeURIComponent(text) });
      ex.res.end();
      return;
    }
    ex.trailersOnly = true;
    grpcAnswer(ex.res, grpcStatus, text);
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
  const redirect = (req: ClientRequest, res: ClientResponse) => {
    const ex = newExchange(req, res);
    res.once('close', () => account(ex));
    const host = bareHost(req.headers.host);
    if (!/^(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])$/.test(host))
      return refuse(ex, 400, 'bad request: a Host header is needed to redirect to https', 'bad_request');
    const target = requestTarget(req as IncomingMessage, []);
    const path = target.ok ? target.path : '/';
    const port = listener.redirectToHttps === 443 ? '' : `:${listener.redirectToHttps}`;
    ex.status = 308;
    (res as ServerResponse).writeHead(308, {
      location: `https://${host}${port}${path}`,
      'content-length': 0,
    });
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
  // HTTP/2 sessions, to send GOAWAY on drain and cut them when the grace period is over.
  const sessions = new Set<Http2Session>();
  let server: Server | Http2Server;
  if (deps.tls && listener.http2 !== false) {
    // ALPN picks h2 or http/1.1 on the same port; HTTP/1.1 requests get the same handler.
    server = createH2Server({ ...deps.tls.serverOptions(['h2', 'http/1.1']), allowHTTP1: true }, handler);
  } else if (deps.tls)
    server = createHttpsServer({ ...options, ...deps.tls.serverOptions(['http/1.1']) }, handler);
  else if (listener.h2c)
    server = createH2cServer({}, handler); // prior knowledge, as gRPC clients do
  else server = createServer(options, handler);
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  if (deps.tls) {
    deps.tls.attach(server as unknown as { setSecureContext(o: object): void });
    // Failed handshakes (no shared protocol or cipher, a client certificate refused…) never reach
    // a handler: counted here, with the reason in the debug log.
    server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
      deps.metrics.tlsHandshakeErrors.inc({ listener: name });
      deps.log.debug({ listener: name, code: err.code, err: err.message }, 'TLS handshake failed');
    });
  }

  const websocket = createWebSocketProxy(name, deps, now);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (isWebSocket(req)) return websocket(req, socket, head);
    // An HTTP/2 server with HTTP/1.1 (TLS) hands over every upgrade: answer it as HTTP/1.1.
    const res = new ServerResponse(req);
    res.assignSocket(socket as import('node:net').Socket);
    res.shouldKeepAlive = false;
    res.once('finish', () => socket.end());
    handler(req, res);
  });

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
      for (const s of sessions) s.close();
    },
    close: () =>
      'closeIdleConnections' in server
        ? closeServer(server)
        : new Promise<void>((resolve) => {
            for (const s of sessions) s.close();
            server.close(() => resolve());
          }),
    cut() {
      if ('closeAllConnections' in server) server.closeAllConnections();
      for (const s of sessions) s.destroy();
    },
  };
}

/** An HTTP/2 stream the client reset (cancelled): its response reads as finished, but is not. */
function resetByClient(ex: Exchange): boolean {
  if (!ex.h2) return false;
  const stream = (ex.res as Http2ServerResponse).stream;
  return stream.aborted || (stream.rstCode !== undefined && stream.rstCode !== 0);
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
