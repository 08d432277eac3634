// The pod view's server: the page (plain HTML/CSS/JS from demo/view) and a small JSON API —
//   GET  /api/state                          everything the page draws (see probe.ts)
//   GET  /api/logs/<name>?tail=N              a container's last output lines (kubectl logs -c)
//   POST /api/traffic?count=N                N requests through the pod's front door
//   POST /api/edit                           publish an edit through the sidecar
//   POST /api/containers/<name>/stop|start|kill
// POSTs need the header `x-pod-view: 1`, so another site's form cannot press the buttons.
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { sendTraffic, writeEdit } from './actions.ts';
import type { LogBuffer } from './log-buffer.ts';
import type { PodPlan } from './pod.ts';
import { collectState } from './probe.ts';
import type { Supervisor } from './supervisor.ts';

const VIEW_DIR = join(import.meta.dirname, '..', 'view');
const STATIC: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/pod-view.css': 'pod-view.css',
  '/pod-view.js': 'pod-view.js',
};
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
};

export interface ViewServerDeps {
  plan: PodPlan;
  supervisor: Supervisor;
  logs?: LogBuffer;
  /** Told about each experiment, for the runner's log. */
  onAction?(message: string): void;
}

export function createViewServer(deps: ViewServerDeps): Server {
  return createServer((req, res) => {
    handle(deps, req, res).catch((err: Error) => json(res, 500, { error: err.message }));
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function handle(deps: ViewServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://pod-view');
  const path = url.pathname;
  if (req.method === 'GET' && STATIC[path]) {
    const file = STATIC[path]!;
    const body = await readFile(join(VIEW_DIR, file));
    res.writeHead(200, { 'content-type': TYPES[extname(file)]!, 'cache-control': 'no-cache' });
    res.end(body);
    return;
  }
  if (req.method === 'GET' && path === '/api/state') {
    json(res, 200, await collectState(deps.plan, deps.supervisor));
    return;
  }
  const logsOf = /^\/api\/logs\/([a-z-]+)$/.exec(path);
  if (req.method === 'GET' && logsOf) {
    const name = logsOf[1]!;
    if (!deps.supervisor.get(name)) {
      json(res, 404, { error: `no container named ${name}` });
      return;
    }
    const tail = Math.min(Math.max(Number(url.searchParams.get('tail') ?? '100') || 100, 1), 200);
    json(res, 200, { container: name, lines: deps.logs?.get(name, tail) ?? [] });
    return;
  }
  if (!path.startsWith('/api/')) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    return;
  }
  if (req.method !== 'POST') {
    json(res, 405, { error: `${req.method} ${path}: use POST` });
    return;
  }
  if (req.headers['x-pod-view'] !== '1') {
    json(res, 403, { error: 'missing header x-pod-view: 1' });
    return;
  }
  if (path === '/api/traffic') {
    const count = Number(url.searchParams.get('count') ?? '50');
    if (!Number.isInteger(count) || count < 1 || count > 5000) {
      json(res, 400, { error: 'count must be an integer from 1 to 5000' });
      return;
    }
    const result = await sendTraffic(deps.plan.siteUrl, count);
    deps.onAction?.(
      `pod view sent ${count} requests to ${deps.plan.siteUrl}: ${JSON.stringify(result.byStatus)}`,
    );
    json(res, 200, result);
    return;
  }
  if (path === '/api/edit') {
    const result = await writeEdit(deps.plan.source);
    deps.onAction?.(`pod view wrote ${result.file}; content-sync should publish it now`);
    json(res, 200, result);
    return;
  }
  const m = /^\/api\/containers\/([a-z-]+)\/(stop|start|kill)$/.exec(path);
  const container = m ? deps.supervisor.get(m[1]!) : undefined;
  if (!m || !container) {
    json(res, 404, { error: `no such action: ${path}` });
    return;
  }
  const action = m[2]!;
  deps.onAction?.(`pod view: ${action} ${container.spec.name}`);
  if (action === 'stop') await container.stop();
  else if (action === 'start') container.start();
  else container.kill();
  json(res, 200, container.status());
}
