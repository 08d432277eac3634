// The access log against the real server: the exact nginx combined layout plus $request_time,
// JSON, self-rotation by size, reopening after rename-away, truncation and SIGHUP, and a final
// flush that loses no line.
import { existsSync, readdirSync, readFileSync, renameSync, statSync, truncateSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AccessLog } from './access-log.ts';
import { esc, timeLocal } from './access-log-format.ts';
import type { Web } from './server.ts';
import { http, Site, startWeb, until } from './testing.ts';

const site = new Site();
let web: Web | undefined;
let n = 0;
const logPath = () => join(site.dir, `access-${n}.log`);
const lines = (path: string) =>
  existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : ([] as string[]);

beforeAll(() => {
  site.publish({ 'a.txt': 'hello', 'index.html': 'home' });
});
afterEach(async () => {
  await web?.stop();
  web = undefined;
});
afterAll(() => site.remove());

async function start(env: Record<string, string> = {}) {
  n++;
  web = await startWeb({ WEB_ROOT: site.current, WEB_ACCESS_LOG: logPath(), ...env });
  return web;
}

const COMBINED =
  /^127\.0\.0\.1 - - \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET \/a\.txt\?q=1 HTTP\/1\.1" 200 5 "http:\/\/ref\/" "test-agent\/1\.0" \d+\.\d{3}$/;

describe('access log format', () => {
  it('writes nginx combined plus the request time in seconds', async () => {
    const w = await start();
    await http(w.port, '/a.txt?q=1', { headers: { referer: 'http://ref/', 'user-agent': 'test-agent/1.0' } });
    await http(w.port, '/missing');
    await http(w.port, '/a.txt', { method: 'HEAD' });
    await w.stop();
    const [first, second, third] = lines(logPath());
    expect(first).toMatch(COMBINED);
    expect(second).toMatch(/"GET \/missing HTTP\/1\.1" 404 \d+ "-" "-" \d+\.\d{3}$/);
    expect(third).toMatch(/"HEAD \/a\.txt HTTP\/1\.1" 200 0 "-" "-" \d+\.\d{3}$/);
  });

  it('formats the time like nginx $time_local (UTC) and escapes like nginx', () => {
    expect(timeLocal(new Date(Date.UTC(2026, 10, 25, 13, 55, 2)))).toBe('25/Nov/2026:13:55:02 +0000');
    expect(esc('say "hi"\\\n')).toBe('say \\x22hi\\x22\\x5C\\x0A');
    expect(esc('plain')).toBe('plain');
  });

  it('writes one JSON object per line with WEB_ACCESS_LOG_FORMAT=json', async () => {
    const w = await start({ WEB_ACCESS_LOG_FORMAT: 'json' });
    await http(w.port, '/a.txt', { headers: { 'user-agent': 'ua "quoted"' } });
    await w.stop();
    const obj = JSON.parse(lines(logPath())[0]!);
    expect(obj).toMatchObject({
      remote_addr: '127.0.0.1',
      method: 'GET',
      uri: '/a.txt',
      protocol: 'HTTP/1.1',
      status: 200,
      body_bytes_sent: 5,
      http_referer: '',
      http_user_agent: 'ua "quoted"',
    });
    expect(typeof obj.request_time).toBe('number');
    expect(Number.isNaN(Date.parse(obj.time))).toBe(false);
  });

  it('logs nothing with off', async () => {
    const w = await startWeb({ WEB_ROOT: site.current, WEB_ACCESS_LOG: 'off' });
    web = w;
    await http(w.port, '/a.txt');
    expect(w.accessLog.enabled).toBe(false);
  });
});

describe('access log files', () => {
  it('rotates by size, keeping every line in order across access.log, .1, .2 …', async () => {
    const w = await start({ WEB_ACCESS_LOG_MAX_SIZE: '1Ki', WEB_ACCESS_LOG_KEEP: '20' });
    for (let i = 0; i < 40; i++) await http(w.port, `/a.txt?i=${i}`);
    await w.stop();
    const rotated = readdirSync(site.dir).filter((f) => f.startsWith(`access-${n}.log.`));
    expect(rotated.length).toBeGreaterThanOrEqual(2);
    const files = [
      ...rotated.sort((a, b) => Number(b.split('.').pop()) - Number(a.split('.').pop())),
      `access-${n}.log`,
    ];
    const all: string[] = [];
    for (const f of files) {
      expect(statSync(join(site.dir, f)).size).toBeLessThanOrEqual(1024);
      all.push(...lines(join(site.dir, f)));
    }
    expect(all.map((l) => /\?i=(\d+) /.exec(l)?.[1])).toEqual(
      Array.from({ length: 40 }, (_, i) => String(i)),
    );
  });

  it('keeps only WEB_ACCESS_LOG_KEEP rotated files', async () => {
    const w = await start({ WEB_ACCESS_LOG_MAX_SIZE: '512', WEB_ACCESS_LOG_KEEP: '2' });
    for (let i = 0; i < 40; i++) await http(w.port, `/a.txt?i=${i}`);
    await w.stop();
    expect(existsSync(`${logPath()}.1`)).toBe(true);
    expect(existsSync(`${logPath()}.2`)).toBe(true);
    expect(existsSync(`${logPath()}.3`)).toBe(false);
  });

  it('reopens a new file when the old one is renamed away, losing no line', async () => {
    const w = await start();
    await http(w.port, '/a.txt?before');
    await until(() => lines(logPath()).length === 1, 5000, 'first line');
    renameSync(logPath(), `${logPath()}.moved`);
    await http(w.port, '/a.txt?between');
    await until(() => existsSync(logPath()), 5000, 'log reopened');
    await http(w.port, '/a.txt?after');
    await w.stop();
    const moved = lines(`${logPath()}.moved`);
    const fresh = lines(logPath());
    expect(moved[0]).toContain('?before');
    expect([...moved, ...fresh].length).toBe(3);
    expect(fresh.at(-1)).toContain('?after');
  });

  it('reopens on SIGHUP (reload) at once', async () => {
    const w = await start();
    await http(w.port, '/a.txt?one');
    await until(() => lines(logPath()).length === 1, 5000, 'first line');
    renameSync(logPath(), `${logPath()}.old`);
    w.reload();
    await http(w.port, '/a.txt?two');
    await w.stop();
    expect(lines(logPath())).toHaveLength(1);
    expect(lines(logPath())[0]).toContain('?two');
  });

  it('keeps writing at the start after the file is truncated (copytruncate)', async () => {
    const w = await start();
    for (let i = 0; i < 5; i++) await http(w.port, `/a.txt?x=${i}`);
    await until(() => lines(logPath()).length === 5, 5000, 'five lines');
    truncateSync(logPath(), 0);
    await http(w.port, '/a.txt?after-truncate');
    await w.stop();
    const text = readFileSync(logPath(), 'utf8');
    expect(text.includes('\0')).toBe(false);
    expect(lines(logPath())).toHaveLength(1);
  });
});

describe('AccessLog writer', () => {
  it('logs a response the kernel took whole at once; a big one only when it is done', async () => {
    n++;
    const log = new AccessLog({ destination: logPath(), format: 'combined', maxSize: 0, keep: 1 });
    const heldAfterTrack: Record<string, number> = {};
    const server = createServer((req, res) => {
      const body = Buffer.alloc(req.url === '/big' ? 16 * 1024 * 1024 : 1024, 0x78);
      res.writeHead(200, { 'content-length': String(body.length) });
      res.end(body);
      const before = log.held;
      log.track(req, res, performance.now());
      heldAfterTrack[req.url!] = log.held - before;
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      await http(port, '/small');
      await http(port, '/big');
    } finally {
      await new Promise((r) => server.close(r));
    }
    expect(heldAfterTrack).toEqual({ '/small': 1, '/big': 0 });
    await log.close();
    expect(lines(logPath()).map((l) => l.split('"')[1])).toEqual([
      'GET /small HTTP/1.1',
      'GET /big HTTP/1.1',
    ]);
  });

  it('flushes every queued line on close', async () => {
    n++;
    const log = new AccessLog({ destination: logPath(), format: 'combined', maxSize: 0, keep: 1 });
    for (let i = 0; i < 10_000; i++) log.write(`line ${i}`);
    await log.close();
    const got = lines(logPath());
    expect(got).toHaveLength(10_000);
    expect(got.at(-1)).toBe('line 9999');
  });
});

describe('probes', () => {
  it('leaves the kubelet’s GET/HEAD /healthz and /readyz out of the log by default', async () => {
    const w = await start();
    await http(w.port, '/healthz');
    await http(w.port, '/readyz?verbose=1');
    await http(w.port, '/readyz', { method: 'HEAD' });
    await http(w.port, '/a.txt');
    await http(w.port, '/healthz', { method: 'POST' });
    await w.stop();
    const logged = lines(logPath()).map((l) => l.split('"')[1]);
    expect(logged).toEqual(['GET /a.txt HTTP/1.1', 'POST /healthz HTTP/1.1']);
  });

  it('logs them with WEB_ACCESS_LOG_PROBES=true', async () => {
    const w = await start({ WEB_ACCESS_LOG_PROBES: 'true' });
    await http(w.port, '/healthz');
    await http(w.port, '/readyz');
    await w.stop();
    expect(lines(logPath()).map((l) => l.split('"')[1])).toEqual([
      'GET /healthz HTTP/1.1',
      'GET /readyz HTTP/1.1',
    ]);
  });
});
