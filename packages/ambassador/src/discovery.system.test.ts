// Discovery against a real DNS server: dnsmasq (Debian) on a 127.0.0.1 port serves the name of a
// "headless Service" whose addresses are changed mid-test, while traffic flows through the
// ambassador to origins listening on 127.0.0.2–4 (all loopback, one port).
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor as poll } from '@multipod/service/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemResolver } from './discovery.ts';
import { makeTestCa } from './test-ca.ts';
import { get, metricValue, startAmbassador, type TestAmbassador } from './test-helpers.ts';

const ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4'] as const;

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

class Dnsmasq {
  readonly dir = mkdtempSync(join(tmpdir(), 'dnsmasq-'));
  port = 0;
  child: ChildProcess | undefined;
  #name = '';

  hosts(lines: string[]): void {
    this.#name = lines[0]!.split(' ')[1]!;
    writeFileSync(join(this.dir, 'hosts'), `${lines.join('\n')}\n`);
    chmodSync(join(this.dir, 'hosts'), 0o644);
    this.child?.kill('SIGHUP'); // dnsmasq re-reads its hosts files
  }

  async start(): Promise<void> {
    chmodSync(this.dir, 0o755); // dnsmasq drops to nobody when started as root
    this.port ||= await freeUdpPort();
    this.child = spawn(
      'dnsmasq',
      [
        '--keep-in-foreground',
        '--conf-file=/dev/null',
        '--no-resolv',
        '--no-hosts',
        `--addn-hosts=${join(this.dir, 'hosts')}`,
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        `--port=${this.port}`,
        '--local-ttl=1',
        `--pid-file=${join(this.dir, 'pid')}`,
        '--log-facility=-',
      ],
      { stdio: 'ignore' },
    );
    const resolver = systemResolver([`127.0.0.1:${this.port}`]);
    await poll('dnsmasq to answer', () => resolver.resolve(this.#name).then(() => true), {
      retryErrors: true,
    });
  }

  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await exited;
  }
}

describe('discovery by DNS (dnsmasq)', () => {
  const dns = new Dnsmasq();
  const servers: Server[] = [];
  const hits = new Map<string, number>();
  let port = 0;
  let amb: TestAmbassador;

  beforeAll(async () => {
    // One port on every address, as a Service's pods share the targetPort.
    for (const address of ADDRESSES) {
      const s = createServer((req, res) => {
        hits.set(address, (hits.get(address) ?? 0) + 1);
        res.end(`${address} ${req.headers.host}`);
      });
      s.listen(port, address);
      await once(s, 'listening');
      port = (s.address() as { port: number }).port;
      servers.push(s);
    }
    dns.hosts([`${ADDRESSES[0]} backend.test`, `${ADDRESSES[1]} backend.test`]);
    await dns.start();
    amb = await startAmbassador(
      {
        AMBASSADOR_UPSTREAMS: `http://backend.test:${port}`,
        AMBASSADOR_RESOLVE_INTERVAL: '1s',
        AMBASSADOR_HOST_HEADER: 'upstream',
      },
      { resolver: systemResolver([`127.0.0.1:${dns.port}`]) },
    );
  }, 30_000);
  afterAll(async () => {
    await amb?.stop();
    await dns.stop();
    for (const s of servers) s.close();
    rmSync(dns.dir, { recursive: true, force: true });
  });

  const addressesInPool = () =>
    amb
      .state()
      .pools.get('default')!
      .upstreams.map((u) => u.address)
      .sort();

  it('spreads over every address of the name, with Host still the name', async () => {
    expect(addressesInPool()).toEqual([ADDRESSES[0], ADDRESSES[1]]);
    const bodies = new Set<string>();
    for (let i = 0; i < 10; i++) bodies.add((await get(`${amb.url}/`)).body);
    expect([...bodies].sort()).toEqual([
      `${ADDRESSES[0]} backend.test:${port}`,
      `${ADDRESSES[1]} backend.test:${port}`,
    ]);
  });

  it('follows addresses added and removed while traffic flows; none goes to a removed one after it is gone', async () => {
    let stop = false;
    let failed = 0;
    const load = (async () => {
      while (!stop) if ((await get(`${amb.url}/`)).status !== 200) failed++;
    })();
    dns.hosts([`${ADDRESSES[1]} backend.test`, `${ADDRESSES[2]} backend.test`]);
    await poll(
      'the new address set',
      () => addressesInPool().join() === [ADDRESSES[1], ADDRESSES[2]].join(),
      {
        timeoutMs: 15_000,
      },
    );
    const removedHits = hits.get(ADDRESSES[0]) ?? 0;
    const newBefore = hits.get(ADDRESSES[2]) ?? 0;
    await poll('traffic on the new address', () => (hits.get(ADDRESSES[2]) ?? 0) > newBefore + 5);
    stop = true;
    await load;
    // Requests already under way when it left may finish there; none start after.
    expect(hits.get(ADDRESSES[0]) ?? 0).toBeLessThanOrEqual(removedHits + 1);
    expect(failed).toBe(0);
  }, 30_000);

  it('keeps the last good addresses when the DNS server is gone, and says so', async () => {
    const before = addressesInPool();
    await dns.stop();
    await poll(
      'a failed lookup',
      async () => (await metricValue(amb, 'ambassador_dns_resolutions_total', { result: 'error' })) > 0,
      {
        timeoutMs: 20_000,
      },
    );
    expect(addressesInPool()).toEqual(before);
    expect((await get(`${amb.url}/`)).status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${amb.adminPort}/readyz`);
    expect(await ready.text()).toMatch(/cannot resolve backend.test.*keeping 2 addresses/);
    await dns.start();
  }, 30_000);
});

describe('TLS to a discovered address', () => {
  it('connects to the address but verifies the certificate, sends SNI and Host for the name', async () => {
    const ca = makeTestCa();
    const dns = new Dnsmasq();
    let sni: string | undefined;
    const server = createHttpsServer({ cert: ca.serverCert, key: ca.serverKey }, (req, res) => {
      sni = (req.socket as { servername?: string }).servername;
      res.end(`tls ${req.headers.host}`);
    });
    server.listen(0, ADDRESSES[0]);
    await once(server, 'listening');
    const tlsPort = (server.address() as { port: number }).port;
    dns.hosts([`${ADDRESSES[0]} upstream.test`]);
    await dns.start();
    const amb = await startAmbassador(
      {
        AMBASSADOR_UPSTREAMS: `https://upstream.test:${tlsPort}`,
        AMBASSADOR_CA_FILE: ca.caFile,
        AMBASSADOR_HOST_HEADER: 'upstream',
      },
      { resolver: systemResolver([`127.0.0.1:${dns.port}`]) },
    );
    try {
      expect(
        amb
          .state()
          .pools.get('default')!
          .upstreams.map((u) => u.name),
      ).toEqual([`https://${ADDRESSES[0]}:${tlsPort}`]);
      const r = await get(`${amb.url}/`);
      expect(r.body).toBe(`tls upstream.test:${tlsPort}`);
      expect(sni).toBe('upstream.test');
    } finally {
      await amb.stop();
      await dns.stop();
      server.close();
      rmSync(dns.dir, { recursive: true, force: true });
    }
  }, 30_000);
});
