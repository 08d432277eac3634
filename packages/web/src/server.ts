// createWeb(config): one node:http server on the content port. Cached GET/HEAD hits go straight
// out (the fast path); /healthz and /readyz are answered; everything else goes through the express
// app. Every request is access-logged when its response is done.
import { createServer, type Server } from 'node:http';
import { closeServer, Health, handleHealth, type Logger, listen } from '@multipod/service';
import { AccessLog } from './access-log.ts';
import { createApp } from './app.ts';
import type { WebConfig } from './config.ts';
import { checkRoot } from './root.ts';
import { createStaticFiles, type StaticFiles } from './static-files.ts';

export interface WebDeps {
  log: Logger;
}

export interface Web {
  server: Server;
  port: number;
  health: Health;
  files: StaticFiles;
  accessLog: AccessLog;
  /** SIGHUP: reopen the access log. */
  reload(): void;
  /** Stop accepting, finish in-flight requests, flush the access log. */
  stop(): Promise<void>;
}

export async function createWeb(config: WebConfig, deps: WebDeps): Promise<Web> {
  const { log } = deps;
  const files = createStaticFiles({
    root: config.root,
    index: config.index,
    spaFallback: config.spaFallback,
    notFoundPage: config.notFoundPage === 'off' ? null : config.notFoundPage,
    allowDotfiles: config.dotfiles === 'allow',
    precompressed: config.precompressed,
    maxAgeMs: config.maxAge,
    immutableMaxAgeMs: config.immutableMaxAge,
    securityHeaders: config.securityHeaders,
    contentSecurityPolicy: config.contentSecurityPolicy,
    cacheSize: config.cacheSize,
    cacheMaxFile: config.cacheMaxFile,
    maxPath: config.maxPath,
  });
  const accessLog = new AccessLog({
    destination: config.accessLog,
    format: config.accessLogFormat,
    maxSize: config.accessLogMaxSize,
    keep: config.accessLogKeep,
    onError: (msg, err) => log.error({ err }, msg),
  });
  const health = new Health({ ready: () => checkRoot(config.root) });
  const app = createApp(files, log);
  const fast = config.fastPath;
  let stopping = false;

  // Header/request timeouts are enforced by a periodic sweep; make it fine-grained enough for them.
  const sweep = Math.max(100, Math.min(1000, Math.floor(config.headersTimeout / 2)));
  const server = createServer({ connectionsCheckingInterval: sweep }, (req, res) => {
    const start = performance.now();
    // Once stopping, every answer says `Connection: close` so keep-alive clients (the ambassador's
    // pool) go elsewhere instead of sending more on a connection that is about to close.
    if (stopping) res.shouldKeepAlive = false;
    if (fast && files.serveCached(req, res)) return accessLog.track(req, res, start);
    accessLog.track(req, res, start);
    if (handleHealth(health, req, res)) return;
    app(req, res);
  });
  // Slow or idle clients cannot pin the server; idle keep-alive outlives proxies' 60s pools.
  server.headersTimeout = config.headersTimeout;
  server.requestTimeout = config.requestTimeout;
  server.keepAliveTimeout = config.keepAliveTimeout;
  server.timeout = config.idleTimeout;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // Malformed requests, oversized headers, timeouts: answer like nginx would, never crash.
    if (!socket.writable || err.code === 'ECONNRESET') return socket.destroy();
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.end(
      `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
    );
  });

  const port = await listen(server, {
    port: config.port,
    host: config.host,
    setting: '--port / WEB_PORT',
    hostSetting: '--host / WEB_HOST',
  });
  const ready = checkRoot(config.root);
  log.info({ port, root: config.root, ready: ready.reason }, 'listening');

  let stopped: Promise<void> | undefined;
  return {
    server,
    port,
    health,
    files,
    accessLog,
    reload: () => accessLog.reopen(),
    stop() {
      stopped ??= (async () => {
        stopping = true;
        health.drain();
        await closeServer(server);
        await accessLog.close();
      })();
      return stopped;
    },
  };
}
