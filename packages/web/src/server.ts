// createWeb(config): one node:http server on the content port. Requests nginx would refuse before
// routing are refused first (request-gate.ts, client-errors.ts); cached GET/HEAD hits go straight
// out (the fast path); /healthz and /readyz are answered; everything else goes through the express
// app. Every request is access-logged when its response is done.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { closeServer, Health, handleHealth, type Logger, listen } from '@multipod/service';
import { AccessLog } from './access-log.ts';
import { createApp } from './app.ts';
import { type CountedResponse, noteSentBeforeClosing } from './body-bytes.ts';
import { onClientError, onConnect } from './client-errors.ts';
import type { WebConfig } from './config.ts';
import { refuse } from './request-gate.ts';
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
  const files = createStaticFiles(
    {
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
    },
    log,
  );
  const accessLog = new AccessLog({
    destination: config.accessLog,
    format: config.accessLogFormat,
    maxSize: config.accessLogMaxSize,
    keep: config.accessLogKeep,
    onError: (msg, err) => log.error({ err }, msg),
    onInfo: (msg) => log.info(msg),
  });
  const health = new Health({ ready: () => checkRoot(config.root) });
  const app = createApp(files, log);
  const fast = config.fastPath;
  const logProbes = config.accessLogProbes;
  let stopping = false;

  // Header/request timeouts are enforced by a periodic sweep; make it fine-grained enough for them.
  const sweep = Math.max(100, Math.min(1000, Math.floor(config.headersTimeout / 2)));
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const start = performance.now();
    // Once stopping, every answer says `Connection: close` so keep-alive clients (the ambassador's
    // pool) go elsewhere instead of sending more on a connection that is about to close.
    if (stopping) res.shouldKeepAlive = false;
    const refused = refuse(req);
    if (refused) {
      res.shouldKeepAlive = false;
      accessLog.track(req, res, start);
      return files.sendText(res, refused.status, `${refused.reason}\n`);
    }
    // The fast path starts here: a cached GET/HEAD hit is answered on the raw handler, before
    // express (one stat, one write; measured in the README's Performance section).
    if (fast && files.serveCached(req, res)) return accessLog.track(req, res, start);
    // The kubelet's probes are not traffic: logged, the adapter would count them as a steady
    // request rate with no user at all (nginx operators leave them out the same way).
    if (logProbes || !isProbe(req)) accessLog.track(req, res, start);
    if (handleHealth(health, req, res)) return;
    app(req, res);
  };
  // The Host check is request-gate.ts's, so that a request without one is answered and logged.
  const server = createServer({ connectionsCheckingInterval: sweep, requireHostHeader: false }, onRequest);
  // Slow or idle clients cannot pin the server; idle keep-alive outlives proxies' 60s pools.
  server.headersTimeout = config.headersTimeout;
  server.requestTimeout = config.requestTimeout;
  server.keepAliveTimeout = config.keepAliveTimeout;
  server.timeout = config.idleTimeout;
  // A connection without progress for the idle timeout (nginx's send_timeout for a client that
  // stopped reading) is closed; what its response still had queued is noted for the access log.
  server.on('timeout', (socket: Socket & { _httpMessage?: CountedResponse | null }) => {
    const res = socket._httpMessage;
    if (res && !res.writableFinished) noteSentBeforeClosing(res);
    socket.destroy();
  });
  // Malformed requests, oversized headers, timeouts, CONNECT: answered like nginx, logged, never a crash.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) =>
    onClientError(err, socket, accessLog),
  );
  server.on('connect', (req: IncomingMessage, socket: Socket) => onConnect(req, socket, accessLog));
  // An Expect other than 100-continue: nginx ignores it and serves the request; Node would send 417.
  server.on('checkExpectation', onRequest);

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

/** A GET or HEAD of /healthz or /readyz: what a kubelet probe sends (other methods get a logged 405). */
function isProbe(req: IncomingMessage): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const path = (req.url ?? '').split('?', 1)[0];
  return path === '/healthz' || path === '/readyz';
}
