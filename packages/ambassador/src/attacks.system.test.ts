// The attack classes that once broke the ambassador, replayed with generated variants so the class
// stays closed, not only the case: route bypass through dot segments (judged by a real nginx behind
// it, which decodes and resolves paths its own way), the forwarding-header family, smuggling-shaped
// framing, odd upgrades, absolute-form targets, and one path's 503s against the pool.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Nginx, startNginx } from '@multipod/service/testing/nginx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeConfig } from './test-files.ts';
import {
  get,
  metricValue,
  type Origin,
  startAmbassador,
  startOrigin,
  type TestAmbassador,
} from './test-helpers.ts';

/** A seeded generator, so a failure names a case that can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function raw(port: number, text: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(text));
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d) => (out += d));
    s.on('end', () => resolve(out));
    s.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve(out) : reject(err)));
    s.setTimeout(timeoutMs, () => {
      s.destroy();
      resolve(out);
    });
  });
}

const statusOf = (response: string) => Number(response.slice(9, 12));

describe('route bypass, judged by nginx behind the ambassador', () => {
  let dir: string;
  let nginx: Nginx;
  let amb: TestAmbassador;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ambassador-attacks-'));
    // nginx answers which of its locations a request resolved to, after its own decoding,
    // slash merging and dot-segment resolution: what a real upstream would serve.
    nginx = await startNginx(dir, {
      server: `
    location /public/ { return 200 "public $uri\\n"; }
    location = /public { return 200 "public $uri\\n"; }
    location /static/assets/ { return 200 "public $uri\\n"; }
    location / { return 200 "OTHER $uri\\n"; }`,
    });
    const { file } = writeConfig(`
listeners:
  - name: web
    port: 0
    routes:
      - { pathPrefix: /public, pool: nginx }
      - { pathPrefix: /static/, rewritePrefix: /static/assets/, pool: nginx }
pools:
  nginx: { upstreams: [http://127.0.0.1:${nginx.port}] }
`);
    amb = await startAmbassador({ AMBASSADOR_CONFIG: file });
  });
  afterAll(async () => {
    await amb?.stop();
    await nginx?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function judge(path: string): Promise<string | undefined> {
    const r = await raw(amb.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const status = statusOf(r);
    if (status === 200 && !/\r\n\r\npublic \//.test(r)) return `${path} → ${r.split('\r\n\r\n')[1]?.trim()}`;
    if (![200, 400, 404].includes(status)) return `${path} → status ${status}`;
    return undefined;
  }

  it('no spelling of "up one level" leaves the route, systematically', async () => {
    const up = ['..', '%2e%2e', '%2E%2E', '.%2e', '%2e.', '..;', '..%00', '%2e%2e;x'];
    const here = ['', '.', '%2e', '', ''];
    const sep = ['/', '//', '%2f', '%2F', '%5c', '\\', '/./', '/%2e/'];
    const prefixes = ['/public', '/public/x', '/static', '/static/css'];
    const bypasses: string[] = [];
    let n = 0;
    for (const p of prefixes)
      for (const u of up)
        for (const s of sep)
          for (const h of here) {
            const path = `${p}${s}${h ? `${h}${s}` : ''}${u}${s}${u}${s}admin`;
            n++;
            const bad = await judge(path);
            if (bad) bypasses.push(bad);
          }
    expect(n).toBeGreaterThan(1000);
    expect(bypasses).toEqual([]);
  });

  it('no random mix of dots, slashes and escapes leaves the route (seeded fuzz)', async () => {
    const tokens = [
      '/',
      '.',
      '..',
      '%2e',
      '%2f',
      '%5c',
      '%25',
      '%2',
      'a',
      ';',
      '//',
      '%00',
      '\\',
      '?',
      '#',
      '%',
    ];
    const rand = rng(20261130);
    const bypasses: string[] = [];
    for (let i = 0; i < 1500; i++) {
      let path = rand() < 0.5 ? '/public/' : '/static/';
      const len = 2 + Math.floor(rand() * 10);
      for (let j = 0; j < len; j++) path += tokens[Math.floor(rand() * tokens.length)]!;
      path += 'admin';
      const bad = await judge(path);
      if (bad) bypasses.push(bad);
    }
    expect(bypasses).toEqual([]);
  });
});

describe('header and framing attacks, against an origin that records what reaches it', () => {
  let origin: Origin;
  let amb: TestAmbassador;
  const reached: {
    url: string;
    headers: Record<string, string | string[] | undefined>;
    rawHeaders: string[];
  }[] = [];
  beforeAll(async () => {
    origin = await startOrigin((req, res) => {
      reached.push({ url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders });
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    amb = await startAmbassador({ AMBASSADOR_UPSTREAMS: origin.url });
  });
  afterAll(async () => {
    await amb?.stop();
    await origin?.close();
  });

  it('never passes on a forwarding header a client wrote, in any spelling or position', async () => {
    const names = [
      'Forwarded',
      'X-Real-IP',
      'X-Forwarded-For',
      'X-Forwarded-Proto',
      'X-Forwarded-Host',
      'X-Forwarded-Port',
      'X-Forwarded-Prefix',
      'X-Forwarded-Server',
      'X-Forwarded-Ssl',
    ];
    const spell = [(n: string) => n, (n: string) => n.toLowerCase(), (n: string) => n.toUpperCase()];
    const marker = '6.6.6.6-evil';
    for (const n of names)
      for (const sp of spell)
        for (const named of [false, true]) {
          reached.length = 0;
          const conn = named ? `Connection: ${sp(n)}\r\n` : '';
          const r = await raw(
            amb.port,
            `GET /h HTTP/1.1\r\nHost: x\r\n${sp(n)}: ${marker}\r\n${sp(n)}: ${marker}\r\n${conn}Connection: close\r\n\r\n`,
          );
          expect(statusOf(r), `${n} ${named}`).toBe(200);
          const seen = reached[0]!.rawHeaders.join('\n');
          expect(seen, `${sp(n)} named=${named}`).not.toContain(marker);
        }
  });

  it('forwards exactly the requests a client sent: no smuggled second request, whatever the framing', async () => {
    const te = [
      'chunked',
      'Chunked',
      ' chunked',
      'chunked ',
      '\tchunked',
      'chunked, chunked',
      'gzip, chunked',
      'identity, chunked',
      'chunked, identity',
      'xchunked',
      'chunked\r\nTransfer-Encoding: chunked',
    ];
    const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
    for (const t of te)
      for (const cl of ['', 'Content-Length: 4\r\n', 'Content-Length: 40\r\n']) {
        reached.length = 0;
        const body = `0\r\n\r\n${smuggled}`;
        const r = await raw(
          amb.port,
          `POST /first HTTP/1.1\r\nHost: x\r\n${cl}Transfer-Encoding: ${t}\r\nConnection: close\r\n\r\n${body}`,
          1500,
        );
        expect(
          reached.map((x) => x.url),
          `TE "${t}" ${cl.trim()}`,
        ).not.toContain('/smuggled');
        expect(reached.length, `TE "${t}" ${cl.trim()}`).toBeLessThanOrEqual(1);
        expect(r, `TE "${t}" ${cl.trim()}: an answer, never silence`).toMatch(/^HTTP\/1.1 \d\d\d /);
      }
  });

  it('answers every Upgrade it does not proxy as HTTP/1.1, never with silence', async () => {
    for (const up of ['h2c', 'HTTP/2.0', 'TLS/1.2', 'websocketx', 'h2c, websocket', 'IRC/6.9', ''])
      for (const conn of ['Upgrade', 'Upgrade, HTTP2-Settings', 'keep-alive, Upgrade']) {
        const r = await raw(
          amb.port,
          `GET /up HTTP/1.1\r\nHost: x\r\nConnection: ${conn}, close\r\nUpgrade: ${up}\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`,
        );
        expect(statusOf(r), `Upgrade: ${up}; Connection: ${conn}`).toBe(200);
      }
  });

  it('never lets an absolute-form target choose where the request goes', async () => {
    for (const host of [
      'example.com',
      'evil.test:80',
      '127.0.0.2',
      `127.0.0.1:${origin.port}`,
      '[::1]',
      'localhost:1',
    ])
      for (const scheme of ['http', 'https', 'HTTP', 'ftp']) {
        reached.length = 0;
        const r = await raw(
          amb.port,
          `GET ${scheme}://${host}/x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
        );
        expect(statusOf(r), `${scheme}://${host}`).toBe(400);
        expect(reached).toEqual([]);
      }
  });
});

describe("one path's 503s, in bursts of every length", () => {
  it('never take the other paths down while the active checks pass', async () => {
    const app = await startOrigin((req, res) => {
      res.statusCode = req.url === '/sick' ? 503 : 200;
      res.end(String(res.statusCode));
    });
    const amb = await startAmbassador({
      AMBASSADOR_UPSTREAMS: `${app.url},http://127.0.0.1:${app.port}`,
      AMBASSADOR_HEALTH_CHECK: '/healthz',
      AMBASSADOR_HEALTH_CHECK_INTERVAL: '100ms',
    });
    try {
      const rand = rng(503);
      for (let burst = 0; burst < 20; burst++) {
        const n = 1 + Math.floor(rand() * 30);
        await Promise.all(Array.from({ length: n }, () => get(`${amb.url}/sick`)));
        expect((await get(`${amb.url}/fine`)).status, `after a burst of ${n}`).toBe(200);
      }
      expect(await metricValue(amb, 'ambassador_ejections_total')).toBe(0);
    } finally {
      await amb.stop();
      await app.close();
    }
  });

  it('without active checks may eject, but a pool of one keeps answering what its upstream says', async () => {
    let sick = true;
    const app = await startOrigin((_req, res) => {
      res.statusCode = sick ? 503 : 200;
      res.end();
    });
    const amb = await startAmbassador({ AMBASSADOR_UPSTREAMS: app.url });
    try {
      await Promise.all(Array.from({ length: 50 }, () => get(`${amb.url}/`)));
      sick = false;
      expect((await get(`${amb.url}/`)).status).toBe(200);
    } finally {
      await amb.stop();
      await app.close();
    }
  });
});
