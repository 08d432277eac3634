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
    const view = openMetricsView(registry);
    return { contentType: view.contentType, body: await view.metrics() };
  }
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/**
 * A registry's format is fixed when it is made, so OpenMetrics goes through a second registry over
 * the same metrics. prom-client renames every counter it renders as OpenMetrics (`x_total` → `x`,
 * in place), which would break the plain-text scrape after it; counters therefore enter the view
 * as proxies that carry their own name and strip the suffix from a copy of the data.
 */
function openMetricsView(registry: Registry): Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE> {
  const view = new Registry() as unknown as Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>;
  view.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  for (const metric of registry.getMetricsAsArray() as unknown as PromMetric[]) {
    if (metric.type !== 'counter') {
      view.registerMetric(metric as never);
      continue;
    }
    const proxy: PromMetric = {
      name: metric.name,
      help: metric.help,
      type: metric.type,
      get: async () => {
        const data = await metric.get();
        return { ...data, name: data.name.replace(/_total$/, '') };
      },
    };
    view.registerMetric(proxy as never);
  }
  return view;
}

/** The part of a prom-client metric object that a registry reads when it renders. */
interface PromMetric {
  name: string;
  help: string;
  type: string;
  get(): Promise<{ name: string; help: string; type: string; values: unknown[] }>;
}
