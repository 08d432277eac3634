// An HTTP listener: routes each request to a pool, picks an upstream and hands the exchange to
// http-proxy-3 with a keep-alive agent. Failures become a short plain-text 502/503/504; idempotent
// requests without a body are retried on another upstream while nothing has reached the client.
import {
  type ClientRequest,
  createServer,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Logger } from '@multipod/service';
import { ProxyServer } from 'http-proxy-3';
import type { AccessLog } from './access-log.ts';
import { setForwarded, stripHopByHop } from './forwarded.ts';
import type { Metrics } from './metrics.ts';
import type { Pool, Upstream } from './pool.ts';
import { normaliseTarget } from './route-path.ts';
import { matchRoute, type ProxyState, rewritePath, routeLabel } from './state.ts';
import { tlsConnectOptions } from './tls.ts';
import type { ListenerConfig, PoolConfig, RouteConfig } from './types.ts';

export interface HttpDeps {
  state(): ProxyState;
  metrics: Metrics;
  accessLog: AccessLog;
  log: Logger;
  agents: AgentCache;
  clientIdleTimeout: number;
  /**
   * `http-proxy-3` (default) hands each request to http-proxy-3's `web()`; `node` forwards it with
   * node:http directly (same features, ~17% less CPU per request in bench/ambassador). WebSocket
   * upgrades always go through http-proxy-3.
   */
  engine?: HttpEngine;
  now?: () => number;
}

export type HttpEngine = 'http-proxy-3' | 'node';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const kExchange = Symbol('ambassador.exchange');

/** One client request, across its attempts. */
interface Exchange {
  readonly start: number;
  readonly listener: string;
  readonly route: string;
  readonly pool: Pool;
  readonly method: string;
  readonly path: string;
  readonly retryable: boolean;
  readonly clientWantsClose: boolean;
  upstream: Upstream | undefined;
  /** The upstream of the current attempt still counts this request in flight. */
  holding: boolean;
  tried: Set<Upstream> | undefined;
  retries: number;
  status: number;
  bytes: number;
  readTimedOut: boolean;
  error: string | undefined;
}

type Req = IncomingMessage & { [kExchange]?: Exchange };

/** Keep-alive agents per upstream and TLS settings, shared across reloads. */
export class AgentCache {
  readonly #agents = new Map<string, HttpAgent>();

  get(u: Upstream, pool: PoolConfig): HttpAgent {
    const key = `${u.url.href}|${pool.idleTimeout}|${pool.tls.ca ?? ''}|${pool.tls.cert ?? ''}|${pool.tls.serverName ?? ''}|${pool.tls.insecure}`;
    let agent = this.#agents.get(key);
    if (!agent) {
      const opts = { keepAlive: true, timeout: pool.idleTimeout, scheduling: 'lifo' as const };
      agent = u.tls ? new HttpsAgent({ ...opts, ...tlsConnectOptions(u, pool.tls) }) : new HttpAgent(opts);
      this.#agents.set(key, agent);
    }
    return agent;
  }

  /** At shutdown: closes the sockets of every agent. (Agents a reload no longer uses simply go idle:
   * their sockets close after the idle timeout.) */
  destroyAll(): void {
    for (const a of this.#agents.values()) a.destroy();
    this.#agents.clear();
  }
}

export interface HttpListener {
  readonly server: Server;
  /** From now on responses ask clients to close their connection. */
  drain(): void;
}

export function createHttpListener(listener: ListenerConfig, deps: HttpDeps): HttpListener {
  const now = deps.now ?? performance.now.bind(performance);
  const name = listener.name;
  const proxy = new ProxyServer({ xfwd: false, prependPath: false });
  let draining = false;

  // Per-upstream options objects, made once: http-proxy-3 copies them per request anyway.
  const optionsCache = new WeakMap<Upstream, object>();
  const optionsFor = (pool: Pool, u: Upstream) => {
    let o = optionsCache.get(u);
    if (!o) {
      o = {
        target: u.url,
        agent: deps.agents.get(u, pool.config),
        connectTimeout: pool.config.connectTimeout,
        secure: !pool.config.tls.insecure,
        changeOrigin: pool.config.hostHeader === 'upstream',
        ssl: u.tls ? tlsConnectOptions(u, pool.config.tls) : undefined,
      };
      optionsCache.set(u, o);
    }
    return o;
  };

  proxy.on('proxyReq', (proxyReq, req) => {
    const ex = (req as Req)[kExchange];
    if (!ex) return;
    proxyReq.setTimeout(ex.pool.config.readTimeout, () => {
      ex.readTimedOut = true;
      proxyReq.destroy();
    });
  });

  /** The upstream answered: account, clean its headers, watch for it dying mid-body. */
  const onResponse = (proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse) => {
    const ex = (req as Req)[kExchange];
    if (!ex) return;
    const status = proxyRes.statusCode ?? 502;
    ex.status = status;
    if (ex.upstream) {
      if (status >= 502 && status <= 504) ex.pool.failed(ex.upstream);
      else ex.pool.succeeded(ex.upstream);
    }
    stripHopByHop(proxyRes.headers);
    // Our own connection to the client: keep it unless the client asked to close or we are draining.
    if (ex.clientWantsClose || draining) {
      proxyRes.headers.connection = 'close';
      res.shouldKeepAlive = false;
    } else proxyRes.headers.connection = 'keep-alive';
    const length = proxyRes.headers['content-length'];
    if (length !== undefined) ex.bytes = Number(length);
    else proxyRes.on('data', (chunk: Buffer) => (ex.bytes += chunk.length));
    // The upstream died mid-response: the client must see a broken response, not a hang.
    proxyRes.on('error', () => {});
    proxyRes.once('close', () => {
      if (!proxyRes.complete) {
        ex.error = ex.readTimedOut ? 'upstream read timeout mid-response' : 'upstream closed mid-response';
        if (ex.upstream) ex.pool.failed(ex.upstream);
        res.destroy();
      }
    });
  };
  proxy.on('proxyRes', onResponse);

  // A client that went away while we waited: nothing to answer.
  proxy.on('econnreset', (_err, req) => {
    const ex = (req as Req)[kExchange];
    if (ex) ex.error = 'client closed the connection';
  });

  const release = (ex: Exchange) => {
    if (ex.holding && ex.upstream) {
      ex.upstream.inFlight--;
      ex.holding = false;
    }
  };

  const finish = (req: Req, res: ServerResponse) => {
    const ex = req[kExchange];
    if (!ex) return;
    release(ex);
    const status = res.writableFinished ? ex.status : ex.status === 0 ? 499 : ex.status;
    const upstream = ex.upstream?.name ?? 'none';
    const ms = now() - ex.start;
    deps.metrics.request(name, upstream, status, ms / 1000);
    deps.accessLog.write({
      listener: name,
      route: ex.route,
      method: ex.method,
      path: ex.path,
      upstream,
      status: res.writableFinished ? status : `${status} (aborted)`,
      bytes: ex.bytes,
      durationMs: Math.round(ms * 1000) / 1000,
      retries: ex.retries,
      ...(ex.error ? { error: ex.error } : {}),
    });
  };

  const reply = (res: ServerResponse, ex: Exchange | undefined, status: number, text: string) => {
    if (ex) {
      ex.status = status;
      ex.error = text;
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = `${status} ${text}\n`;
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      ...(draining ? { connection: 'close' } : {}),
    });
    res.end(body);
  };

  const send = (req: Req, res: ServerResponse, ex: Exchange, u: Upstream) => {
    ex.upstream = u;
    ex.holding = true;
    u.inFlight++;
    if (deps.engine === 'node') return forward(req, res, ex, u);
    proxy.web(req, res, optionsFor(ex.pool, u), (err) =>
      onError(err as NodeJS.ErrnoException, req, res, ex, u),
    );
  };

  /** The `node` engine: what http-proxy-3's web() does for us, without its per-request plumbing. */
  const forward = (req: Req, res: ServerResponse, ex: Exchange, u: Upstream) => {
    const pool = ex.pool.config;
    if (pool.hostHeader === 'upstream') req.headers.host = u.url.host;
    const opts = {
      host: u.host,
      port: u.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent: deps.agents.get(u, pool),
    };
    const up: ClientRequest = u.tls
      ? httpsRequest({ ...opts, ...tlsConnectOptions(u, pool.tls) })
      : httpRequest(opts);
    up.on('socket', (socket) => {
      if (!socket.connecting) return;
      const timer = setTimeout(() => {
        const err: NodeJS.ErrnoException = new Error('ECONNECT_TIMEOUT');
        err.code = 'ECONNECT_TIMEOUT';
        socket.destroy(err);
      }, pool.connectTimeout);
      socket.once('connect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    });
    up.setTimeout(pool.readTimeout, () => {
      ex.readTimedOut = true;
      up.destroy();
    });
    up.on('response', (proxyRes) => {
      onResponse(proxyRes, req, res);
      if (res.headersSent || res.destroyed) return;
      delete proxyRes.headers['transfer-encoding'];
      res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage, proxyRes.headers);
      proxyRes.pipe(res);
    });
    up.on('error', (err) => onError(err as NodeJS.ErrnoException, req, res, ex, u));
    res.once('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  };

  const onError = (err: NodeJS.ErrnoException, req: Req, res: ServerResponse, ex: Exchange, u: Upstream) => {
    release(ex);
    if (req.socket.destroyed || res.destroyed) {
      ex.error ??= 'client closed the connection';
      return;
    }
    ex.pool.failed(u);
    const [status, text] = describe(err, ex);
    if (!res.headersSent && ex.retryable && ex.retries < ex.pool.config.retries) {
      ex.tried ??= new Set();
      ex.tried.add(u);
      // Only when another upstream can take it, and the pool's retry budget allows.
      const next = ex.pool.pick(ex.tried).upstream;
      if (next && ex.pool.takeRetry()) {
        ex.retries++;
        ex.readTimedOut = false;
        deps.metrics.retries.inc({ listener: name, pool: ex.pool.name });
        deps.log.debug(
          { upstream: u.name, err: err.message, retry: ex.retries },
          'retrying on another upstream',
        );
        send(req, res, ex, next);
        return;
      }
    }
    reply(res, ex, status, text);
  };

  const handle = (req: Req, res: ServerResponse) => {
    const state = deps.state();
    let url = req.url ?? '/';
    if (url.charCodeAt(0) !== 47 /* '/' */) {
      const local = absoluteToOrigin(url, state.routes.get(name) ?? []);
      if (local === undefined) {
        deps.metrics.rejected.inc({ listener: name, reason: 'open_proxy' });
        return plain(
          res,
          400,
          'bad request: absolute-form targets naming another host are refused (not an open proxy)',
        );
      }
      url = local.path;
      req.headers.host = local.host; // RFC 9112 §3.2.2: the target's authority wins over Host
    }
    const target = normaliseTarget(url);
    if (!target.ok) {
      deps.metrics.rejected.inc({ listener: name, reason: 'bad_request' });
      return plain(res, 400, `bad request: ${target.reason}`);
    }
    // Routes see, and the upstream gets, the normalised path: never one that resolves elsewhere.
    const normalised = target.path + target.query;
    const route = matchRoute(state.routes.get(name) ?? [], req.headers.host, normalised);
    if (!route) {
      deps.metrics.rejected.inc({ listener: name, reason: 'no_route' });
      return plain(res, 404, `not found: no route for ${req.headers.host ?? ''}${url.split('?', 1)[0]}`);
    }
    const pool = state.pools.get(route.pool)!;
    const method = req.method ?? 'GET';
    const headers = req.headers;
    const clientWantsClose = /\bclose\b/i.test(headers.connection ?? '') || req.httpVersionMinor === 0;
    const hasBody =
      headers['content-length'] !== undefined
        ? headers['content-length'] !== '0'
        : headers['transfer-encoding'] !== undefined;
    stripHopByHop(headers);
    setForwarded(headers, req.socket.remoteAddress, 'http', state.config.trustForwarded);
    // Node has already answered "100 Continue" to the client; the upstream gets the body at once.
    if (headers.expect !== undefined) delete headers.expect;
    req.url = rewritePath(route, normalised);
    const ex: Exchange = {
      start: now(),
      listener: name,
      route: routeLabel(route),
      pool,
      method,
      path: url,
      retryable: IDEMPOTENT.has(method) && !hasBody,
      clientWantsClose,
      upstream: undefined,
      holding: false,
      tried: undefined,
      retries: 0,
      status: 0,
      bytes: 0,
      readTimedOut: false,
      error: undefined,
    };
    req[kExchange] = ex;
    res.once('close', () => finish(req, res));
    pool.noteRequest();
    const picked = pool.pick();
    if (picked.upstream) send(req, res, ex, picked.upstream);
    else {
      deps.metrics.rejected.inc({ listener: name, reason: 'no_upstream' });
      reply(res, ex, 503, `service unavailable: ${picked.reason}`);
    }
  };

  const server = createServer(
    { keepAliveTimeout: deps.clientIdleTimeout, requestTimeout: 0, headersTimeout: 30_000 },
    handle,
  );

  server.on('upgrade', (req: Req, socket: Duplex, head: Buffer) => upgrade(req, socket, head));
  const upgrade = (req: Req, socket: Duplex, head: Buffer) => {
    const state = deps.state();
    const url = req.url ?? '/';
    const target = url.startsWith('/') ? normaliseTarget(url) : undefined;
    if (!target?.ok) {
      deps.metrics.rejected.inc({ listener: name, reason: 'bad_request' });
      socket.end(rawResponse(400, target ? target.reason : 'the target must be a path'));
      return;
    }
    const normalised = target.path + target.query;
    const route = matchRoute(state.routes.get(name) ?? [], req.headers.host, normalised);
    const pool = route ? state.pools.get(route.pool) : undefined;
    const picked = pool?.pick();
    if (!route || !pool || !picked?.upstream) {
      const status = !route ? 404 : 503;
      socket.end(
        rawResponse(status, !route ? 'no route' : picked && !picked.upstream ? picked.reason : 'no upstream'),
      );
      return;
    }
    const u = picked.upstream;
    const start = now();
    u.inFlight++;
    stripHopByHop(req.headers, true);
    setForwarded(req.headers, req.socket.remoteAddress, 'http', state.config.trustForwarded);
    req.url = rewritePath(route, normalised);
    let failed: string | undefined;
    socket.once('close', () => {
      u.inFlight--;
      deps.metrics.request(name, u.name, failed ? 502 : 101, (now() - start) / 1000);
      deps.accessLog.write({
        listener: name,
        route: routeLabel(route),
        method: req.method,
        path: url,
        upstream: u.name,
        status: failed ? 502 : 101,
        bytes: 0,
        durationMs: Math.round((now() - start) * 1000) / 1000,
        retries: 0,
        ...(failed ? { error: failed } : {}),
      });
    });
    proxy.ws(req, socket, head, optionsFor(pool, u), (err) => {
      failed = describe(err as NodeJS.ErrnoException, undefined)[1];
      pool.failed(u);
      if (socket.writable) socket.end(rawResponse(502, failed));
      else socket.destroy();
    });
  };

  // Malformed or smuggling-shaped requests (conflicting Content-Length / Transfer-Encoding…):
  // Node's parser refuses them; we answer 400 with the reason and close.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    deps.metrics.rejected.inc({ listener: name, reason: 'bad_request' });
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.end(rawResponse(status, `malformed request (${err.code ?? 'parse error'})`));
  });

  // CONNECT would make this an open proxy.
  server.on('connect', (_req, socket: Duplex) => {
    deps.metrics.rejected.inc({ listener: name, reason: 'open_proxy' });
    socket.end(rawResponse(405, 'CONNECT is refused (not an open proxy)'));
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

function plain(res: ServerResponse, status: number, text: string): void {
  const body = `${status} ${text}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function rawResponse(status: number, text: string): string {
  const reason =
    {
      400: 'Bad Request',
      404: 'Not Found',
      405: 'Method Not Allowed',
      408: 'Request Timeout',
      431: 'Request Header Fields Too Large',
      502: 'Bad Gateway',
      503: 'Service Unavailable',
    }[status] ?? 'Error';
  const body = `${status} ${text}\n`;
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

/**
 * `http://host/x` → `/x`, only when a route names that host explicitly: absolute-form targets are
 * what clients send to a forward proxy, and this is not one. Undefined = refuse.
 */
function absoluteToOrigin(
  target: string,
  routes: readonly RouteConfig[],
): { path: string; host: string } | undefined {
  try {
    const u = new URL(target);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    const host = u.hostname.toLowerCase();
    const named = routes.some(
      (r) =>
        r.host !== undefined &&
        (r.host === host || (r.host.startsWith('*.') && host.endsWith(r.host.slice(1)))),
    );
    return named ? { path: `${u.pathname}${u.search}`, host: u.host } : undefined;
  } catch {
    return undefined;
  }
}

/** Maps a proxy error to the status and the short reason the client sees. */
function describe(err: NodeJS.ErrnoException, ex: Exchange | undefined): [number, string] {
  const code = err.code ?? '';
  if (code === 'ECONNECT_TIMEOUT') return [504, 'gateway timeout: connecting to the upstream timed out'];
  if (ex?.readTimedOut) return [504, 'gateway timeout: the upstream did not answer in time'];
  if (code === 'ECONNREFUSED') return [502, 'bad gateway: the upstream refused the connection'];
  if (code === 'ECONNRESET' || code === 'EPIPE' || err.message === 'socket hang up')
    return [502, 'bad gateway: the upstream closed the connection'];
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return [502, 'bad gateway: the upstream host name does not resolve'];
  if (/CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code) || /certificate|altnames/i.test(err.message))
    return [502, `bad gateway: TLS to the upstream failed (${code || err.message})`];
  return [502, `bad gateway: ${code || err.message}`];
}
