// Slow and idle clients cannot pin the server; keep-alive outlives proxy pools; readiness follows
// the root; SIGTERM-style stop() finishes a request in flight. (An idle keep-alive connection held
// for seconds is in connections.system.test.ts.)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Web } from './server.ts';
import { http, Site, Sockets, startWeb, until } from './testing.ts';

const site = new Site();
let web: Web | undefined;
const sockets = new Sockets();
const open = (port: number) => sockets.open(port);
const closed = Sockets.closed;

beforeAll(() => {
  site.publish({ 'index.html': 'home' });
  writeFileSync(join(site.active, 'huge.bin'), Buffer.alloc(64 * 1024 * 1024, 'h'));
});
afterEach(async () => {
  sockets.closeAll();
  await web?.stop();
  web = undefined;
});
afterAll(() => site.remove());

describe('timeouts', () => {
  it('answers 408 and closes a client that never finishes its headers', async () => {
    web = await startWeb({
      WEB_ROOT: site.current,
      WEB_HEADERS_TIMEOUT: '300ms',
      WEB_REQUEST_TIMEOUT: '300ms',
    });
    const s = await open(web.port);
    let got = '';
    s.on('data', (d) => {
      got += d.toString();
    });
    s.write('GET / HTTP/1.1\r\nHost: x\r\n'); // no blank line: headers never end
    const t0 = Date.now();
    await until(() => closed(s) || got.length > 0, 5000, 'server to give up');
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(got).toMatch(/^HTTP\/1\.1 408/);
  });

  it('advertises a 75s keep-alive by default (longer than 60s proxy pools)', async () => {
    web = await startWeb({ WEB_ROOT: site.current });
    const s = await open(web.port);
    let got = '';
    s.on('data', (d) => {
      got += d.toString();
    });
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => got.includes('ok'), 5000, 'response');
    expect(got).toMatch(/keep-alive: timeout=75/i);
  });

  it('drops a client that stops reading a large body', async () => {
    web = await startWeb({ WEB_ROOT: site.current, WEB_IDLE_TIMEOUT: '300ms' });
    const s = await open(web.port);
    s.write('GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    s.pause(); // never read: socket buffers fill, the server's writes stall
    const connections = () =>
      new Promise<number>((resolve) => web!.server.getConnections((_e, count) => resolve(count)));
    await until(async () => (await connections()) === 1, 5000, 'connection accepted');
    // A paused client cannot notice the close itself; the server's own connection count can.
    await until(async () => (await connections()) === 0, 15_000, 'server to drop the stalled client');
  });
});

describe('readiness', () => {
  it('is 503 until the root resolves to a readable directory, then 200', async () => {
    const later = new Site();
    try {
      web = await startWeb({ WEB_ROOT: later.current });
      const before = await http(web.port, '/readyz');
      expect(before.status).toBe(503);
      expect(before.text).toContain('does not exist');
      expect((await http(web.port, '/')).status).toBe(503);
      expect((await http(web.port, '/healthz')).status).toBe(200);
      later.publish({ 'index.html': 'arrived' });
      expect((await http(web.port, '/readyz')).status).toBe(200);
      expect((await http(web.port, '/')).text).toBe('arrived');
    } finally {
      later.remove();
    }
  });
});

describe('stop', () => {
  it('closes a keep-alive connection once the response in flight on it is done', async () => {
    web = await startWeb({ WEB_ROOT: site.current });
    const s = await open(web.port);
    let bytes = 0;
    let got = '';
    s.on('data', (d: Buffer) => {
      bytes += d.length;
      if (got.length < 2000) got += d.toString('latin1');
    });
    s.write('GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n'); // keep-alive (HTTP/1.1 default)
    await until(() => bytes > 0, 5000, 'body started');
    expect(got).toMatch(/connection: keep-alive/i);
    await web.stop(); // resolves only once that connection is closed too
    // The server side has let go of it; the client may still be reading what the kernel buffered.
    const stillOpen = await new Promise<number>((resolve, reject) =>
      web!.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
    );
    expect(stillOpen).toBe(0);
    await until(() => closed(s), 5000, 'client sees the close');
    expect(bytes).toBeGreaterThan(64 * 1024 * 1024);
  });

  it('finishes a request in flight, refuses new connections, and turns /readyz to 503', async () => {
    web = await startWeb({ WEB_ROOT: site.current });
    const s = await open(web.port);
    let bytes = 0;
    s.on('data', (d: Buffer) => {
      bytes += d.length;
    });
    s.write('GET /huge.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await until(() => bytes > 0, 5000, 'body started');
    const stopping = web.stop();
    expect((await web.health.ready()).ok).toBe(false);
    await until(() => closed(s), 20_000, 'response finished');
    await stopping;
    expect(bytes).toBeGreaterThan(64 * 1024 * 1024);
    await expect(http(web.port, '/')).rejects.toThrow(/ECONNREFUSED/);
  });
});
