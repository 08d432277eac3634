// The admin server every sidecar exposes: /healthz, /readyz and /metrics (Prometheus text, or
// OpenMetrics when the scraper asks for it), on its own port so probes never queue behind traffic.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Registry } from 'prom-client';
import { type Health, handleHealth } from './health.ts';

export type Route = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface AdminOptions {
  health: Health;
  /** The component's own registry (never prom-client's global one). */
  registry: Registry;
  /** Extra routes (e.g. a status page); return true when handled. */
  routes?: Route[];
}

export function createAdminServer(opts: AdminOptions): Server {
  const server = createServer((req, res) => {
    void handle(opts, req, res).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`internal error: ${err.message}\n`);
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return server;
}

async function handle(opts: AdminOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (handleHealth(opts.health, req, res)) return;
  const path = (req.url ?? '').split('?', 1)[0];
  if (path === '/metrics') {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const { contentType, body } = await renderMetrics(opts.registry, req.headers.accept);
    res.writeHead(200, {
      'content-type': contentType,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  for (const route of opts.routes ?? []) if (await route(req, res)) return;
  res
    .writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
    .end('not found: try /healthz, /readyz or /metrics\n');
}

/** Renders the registry as Prometheus text, or OpenMetrics when the Accept header prefers it. */
export async function renderMetrics(
  registry: Registry,
  accept: string | undefined,
): Promise<{ contentType: string; body: string }> {
  if (accept?.includes('application/openmetrics-text')) {
    // A registry's format is fixed when it is made; a merged view shares the same metric objects.
    const view = Registry.merge([registry]) as unknown as Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>;
    view.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    return { contentType: view.contentType, body: await view.metrics() };
  }
  return { contentType: registry.contentType, body: await registry.metrics() };
}
