// Large files are streamed from disk: a file cut short while it is sent closes the connection at
// once (its Content-Length can no longer be kept, and a keep-alive client must not read the next
// response as the rest of the body), the access log has the bytes really sent, and the error log
// says which file.
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Web } from './server.ts';
import { http, Site, startWebLogged, until } from './testing.ts';

const site = new Site();
const SIZE = 48 * 1024 * 1024; // far more than the kernel buffers between server and client hold
let web: Web | undefined;
const sockets: Socket[] = [];

beforeAll(() => site.publish({ 'a.txt': 'aaa\n' }));
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await web?.stop();
  web = undefined;
});
afterAll(() => site.remove());

async function start(env: Record<string, string>) {
  const started = await startWebLogged({ WEB_ROOT: site.current, ...env });
  web = started.web;
  return started;
}

describe('a file truncated while it is sent', () => {
  it('closes the connection at once and logs the bytes really sent', async () => {
    const accessLog = join(site.dir, 'truncate.log');
    const file = site.path('big.bin');
    writeFileSync(file, Buffer.alloc(SIZE, 'b'));
    const { web, lines } = await start({ WEB_ACCESS_LOG: accessLog });
    const s = connect(web.port, '127.0.0.1');
    sockets.push(s);
    let got = Buffer.alloc(0);
    let closedAt = 0;
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
    });
    s.on('close', () => {
      closedAt = Date.now();
    });
    s.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => got.length > 1024 * 1024, 5000, 'first MiB');
    // Stop reading so the server is mid-file, cut the file (what `cp` over it does), and send a
    // second request on the same keep-alive connection.
    s.pause();
    await new Promise((r) => setTimeout(r, 200));
    truncateSync(file, 2 * 1024 * 1024);
    s.write('GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n');
    const resumed = Date.now();
    s.resume();
    await until(() => closedAt > 0, 10_000, 'the server to close the connection');
    // Promptly: not after the 75 s keep-alive timeout.
    expect(closedAt - resumed).toBeLessThan(5000);
    const headerEnd = got.indexOf('\r\n\r\n') + 4;
    const body = got.length - headerEnd;
    expect(got.subarray(0, headerEnd).toString()).toContain(`content-length: ${SIZE}`);
    expect(body).toBeLessThan(SIZE);
    // Nothing of the second response was mixed into the first one's body.
    expect(got.indexOf('HTTP/1.1', headerEnd)).toBe(-1);
    expect(got.subarray(headerEnd).every((b) => b === 0x62)).toBe(true);
    await web.stop();
    const logged = readFileSync(accessLog, 'utf8').split('\n').filter(Boolean);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(
      new RegExp(`^127\\.0\\.0\\.1 - - \\[.*\\] "GET /big\\.bin HTTP/1\\.1" 200 ${body} `),
    );
    expect(lines.find((l) => l.level === 'error')).toMatchObject({
      msg: 'file ended before its Content-Length (changed while sent); connection closed',
      url: '/big.bin',
      file: '/big.bin',
      end: SIZE,
    });
  });

  it('sends a file that is whole to the last byte, and a range of it', async () => {
    const file = site.path('whole.bin');
    const data = Buffer.alloc(5 * 1024 * 1024 + 7);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 251;
    writeFileSync(file, data);
    const { web } = await start({});
    const whole = await http(web.port, '/whole.bin');
    expect(whole.status).toBe(200);
    expect(whole.body.equals(data)).toBe(true);
    const part = await http(web.port, '/whole.bin', { headers: { range: 'bytes=65530-200000' } });
    expect(part.status).toBe(206);
    expect(part.body.equals(data.subarray(65530, 200001))).toBe(true);
  });
});

describe('a client that stops reading', () => {
  it.each([
    ['streamed from disk', {}],
    ['sent from memory', { WEB_CACHE_MAX_FILE: '64Mi', WEB_CACHE_SIZE: '128Mi' }],
  ])('%s: is closed after the idle timeout and logged with the bytes it was sent', async (_name, env) => {
    const accessLog = join(site.dir, `stall-${Object.keys(env).length}.log`);
    writeFileSync(site.path('stall.bin'), Buffer.alloc(SIZE, 's'));
    const { web } = await start({ WEB_ACCESS_LOG: accessLog, WEB_IDLE_TIMEOUT: '500ms', ...env });
    // Warm the cache (a no-op when the file is streamed), so the stalled request is a hit.
    await http(web.port, '/stall.bin', { method: 'HEAD' });
    await http(web.port, '/stall.bin');
    const s = connect(web.port, '127.0.0.1');
    sockets.push(s);
    let got = 0;
    let head = '';
    let closed = false;
    s.on('data', (d: Buffer) => {
      if (head.length < 4096) head += d.toString('latin1', 0, 4096);
      got += d.length;
    });
    s.on('close', () => {
      closed = true;
    });
    s.write('GET /stall.bin?stalled HTTP/1.1\r\nHost: x\r\n\r\n');
    s.pause();
    const connections = () => new Promise<number>((r) => web.server.getConnections((_e, n) => r(n)));
    await until(async () => (await connections()) === 1, 5000, 'the request to be accepted');
    await until(async () => (await connections()) === 0, 15_000, 'the server to drop the stalled client');
    s.resume(); // now read what the kernel holds for us, up to the close
    await until(() => closed, 10_000, 'the client to see the close');
    await web.stop();
    const line = readFileSync(accessLog, 'utf8')
      .split('\n')
      .find((l) => l.includes('?stalled'));
    const bytes = Number(/" 200 (\d+) /.exec(line ?? '')?.[1]);
    expect(bytes).toBeLessThan(SIZE);
    expect(bytes).toBeGreaterThan(0);
    // Exactly what reached the client: the kernel delivers what it accepted before the close.
    expect(got - (head.indexOf('\r\n\r\n') + 4)).toBe(bytes);
  });
});
