// Test helpers: real servers on 127.0.0.1 port 0, an ambassador started through its factory, and a
// plain HTTP client that never reuses connections unless asked.
import { once } from 'node:events';
import {
  createServer,
  type IncomingMessage,
  type RequestOptions,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, loadSettings } from '@multipod/service';
import { waitFor as poll } from '@multipod/service/testing';
import { Registry } from 'prom-client';
import type { AccessEntry, AccessLog } from './access-log.ts';
import { type AmbassadorSettings, settings } from './config.ts';
import { type Ambassador, type AmbassadorDeps, createAmbassador } from './server.ts';

export interface Origin {
  server: Server;
  port: number;
  url: string;
  hits: number;
  close(): Promise<void>;
}

export async function startOrigin(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Origin> {
  const server = createServer((req, res) => {
    origin.hits++;
    handler(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const origin: Origin = {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    hits: 0,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return origin;
}

/** An origin that answers its own name, so tests can count where requests went. */
export function startNamedOrigin(name: string): Promise<Origin> {
  return startOrigin((_req, res) => res.end(name));
}

export interface TestAmbassador extends Ambassador {
  port: number;
  url: string;
  access: AccessEntry[];
}

export async function startAmbassador(
  env: Record<string, string>,
  extra: Pick<AmbassadorDeps, 'resolver'> = {},
): Promise<TestAmbassador> {
  const s = loadSettings(settings, [], {
    AMBASSADOR_LISTEN: '0',
    AMBASSADOR_ADMIN_PORT: '0',
    AMBASSADOR_HOST: '127.0.0.1',
    AMBASSADOR_DRAIN_DELAY: '0ms',
    ...env,
  }) as AmbassadorSettings;
  const access: AccessEntry[] = [];
  const accessLog: AccessLog = { write: (e) => access.push(e), flush() {}, dropped: 0 };
  const amb = await createAmbassador(s, {
    log: createLogger('ambassador', { level: 'silent' }),
    registry: new Registry(),
    accessLog,
    watch: env.AMBASSADOR_TEST_WATCH === 'true',
    ...extra,
  });
  const port = [...amb.ports.values()][0]!;
  return Object.assign(amb, { port, url: `http://127.0.0.1:${port}`, access });
}

export interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

export function get(url: string, opts: RequestOptions & { body?: string | Buffer } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, ...opts }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Polls until the condition holds or the deadline passes (then throws with the description). */
export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  await poll(what, async () => (await cond()) || undefined, { timeoutMs });
}

export async function metricValue(
  amb: Ambassador,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await amb.registry.metrics();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      total += Number(line.split(' ').pop());
  }
  return total;
}

/** A port with nothing listening: bind, read the port, close. Only for "connection refused" tests. */
export async function refusedPort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
