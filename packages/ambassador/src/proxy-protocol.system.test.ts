// The PROXY protocol against HAProxy (Debian's), both ways: HAProxy in front of the ambassador
// with send-proxy / send-proxy-v2, and the ambassador's TCP pool sending v1/v2 to HAProxy's
// accept-proxy. Clients connect from 127.0.0.3, so the client's address differs from the peer's.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '@multipod/service/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeConfig } from './test-files.ts';
import { type Origin, startAmbassador, startOrigin, type TestAmbassador } from './test-helpers.ts';

function getFrom(port: number, source: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/who', localAddress: source, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('PROXY protocol with HAProxy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-haproxy-'));
  let haproxy: ChildProcess;
  let origin: Origin;
  let amb: TestAmbassador;
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    origin = await startOrigin((req, res) =>
      res.end(`${req.headers['x-forwarded-for'] ?? ''}|${req.headers['x-client'] ?? ''}`),
    );
    for (const k of ['v1front', 'v2front', 'ambHttp', 'ambTcp1', 'ambTcp2', 'haAccept'])
      ports[k] = await freePort();
    const { file } = writeConfig(`
listeners:
  - { name: web, host: 127.0.0.1, port: ${ports.ambHttp}, proxyProtocol: true, pool: app }
  - { name: out1, host: 127.0.0.1, port: ${ports.ambTcp1}, pool: ha1 }
  - { name: out2, host: 127.0.0.1, port: ${ports.ambTcp2}, pool: ha2 }
pools:
  app: { upstreams: [${origin.url}] }
  ha1: { upstreams: ["tcp://127.0.0.1:${ports.haAccept}"], proxyProtocol: v1 }
  ha2: { upstreams: ["tcp://127.0.0.1:${ports.haAccept}"], proxyProtocol: v2 }
`);
    amb = await startAmbassador({ AMBASSADOR_CONFIG: file });
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(
      cfg,
      `global
  maxconn 100
defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend v1front
  bind 127.0.0.1:${ports.v1front}
  default_backend amb_v1
frontend v2front
  bind 127.0.0.1:${ports.v2front}
  default_backend amb_v2
backend amb_v1
  server amb 127.0.0.1:${ports.ambHttp} send-proxy
backend amb_v2
  server amb 127.0.0.1:${ports.ambHttp} send-proxy-v2
frontend accept
  bind 127.0.0.1:${ports.haAccept} accept-proxy
  http-request set-header X-Client %[src]
  default_backend origin
backend origin
  server o 127.0.0.1:${origin.port}
`,
    );
    haproxy = spawn('haproxy', ['-f', cfg, '-db'], { stdio: 'ignore' });
    await waitFor('HAProxy to listen', () => getFrom(ports.v1front!, '127.0.0.1').then(() => true), {
      retryErrors: true,
    });
  });
  afterAll(async () => {
    haproxy?.kill('SIGTERM');
    if (haproxy) await once(haproxy, 'exit');
    await amb?.stop();
    await origin?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads send-proxy (v1) and send-proxy-v2 from HAProxy: the upstream sees the real client', async () => {
    expect(await getFrom(ports.v1front!, '127.0.0.3')).toBe('127.0.0.3|');
    expect(await getFrom(ports.v2front!, '127.0.0.3')).toBe('127.0.0.3|');
  });

  it('refuses a connection that does not start with a PROXY header', async () => {
    await expect(getFrom(ports.ambHttp!, '127.0.0.3')).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(amb.registry.getSingleMetric('ambassador_proxy_protocol_errors_total')).toBeDefined();
  });

  it('sends v1 and v2 from a TCP pool to HAProxy accept-proxy', async () => {
    expect(await getFrom(ports.ambTcp1!, '127.0.0.3')).toBe('|127.0.0.3');
    expect(await getFrom(ports.ambTcp2!, '127.0.0.3')).toBe('|127.0.0.3');
  });
});
