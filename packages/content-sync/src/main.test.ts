// The process as an init container or a sidecar: exit codes, admin endpoints, SIGTERM mid-unpack.
// Runs dist/main.js as a child (built first when missing). SIGTERM in the middle of a publish of
// 10,000 files is in main.system.test.ts.
import { existsSync, mkdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { closeServer, listen } from '@multipod/service';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { currentTree, type MainRuns, mainRuns, makeTarGz, waitFor } from './testing.ts';

let runs: MainRuns;
let root: string;
const run = (env: Record<string, string>, args: string[] = []) => runs.run(env, args);

beforeAll(() => {
  runs = mainRuns('main');
  root = runs.root;
});
afterEach(() => runs.kill());
afterAll(() => runs.remove());

describe('settings', () => {
  it.each([
    [{}, /missing setting --source \/ SYNC_SOURCE/],
    [{ SYNC_SOURCE: 'relative/dir' }, /not an absolute directory path or an http\(s\) URL/],
    [{ SYNC_SOURCE: 'ftp://example.test/site.tar.gz' }, /not a directory or an http\(s\) URL/],
    [
      { SYNC_SOURCE: '/srv/content', SYNC_INTERVAL: '10x' },
      /--interval \/ SYNC_INTERVAL: "10x" is not a duration/,
    ],
    [{ SYNC_SOURCE: '/srv/content', SYNC_ADMIN_PORT: '70000' }, /SYNC_ADMIN_PORT: "70000" is not an integer/],
    [{ SYNC_SOURCE: '/srv', SYNC_TARGET: '/srv/www' }, /overlap/],
    [
      { SYNC_SOURCE: '/srv/content', SYNC_TARGET: '/' },
      /--target \/ SYNC_TARGET: "\/" is the root directory/,
    ],
    [
      { SYNC_SOURCE: '/srv/content', SYNC_TARGET: '/proc/content-sync-www' },
      /--target \/ SYNC_TARGET: "\/proc\/content-sync-www" is on a kernel file system \(proc\)/,
    ],
    [
      { SYNC_SOURCE: '/srv/content', SYNC_TARGET: '/sys/www' },
      /SYNC_TARGET: "\/sys\/www" is on a kernel file system/,
    ],
    [
      { SYNC_SOURCE: '/srv/content', SYNC_TARGET: '/dev/www' },
      /SYNC_TARGET: "\/dev\/www" is on a kernel file system/,
    ],
    [{ SYNC_SOURCE: '/srv/content', SYNC_WEBHOOK_URL: 'not a url' }, /SYNC_WEBHOOK_URL/],
    [
      { SYNC_SOURCE: 'https://example.test/site.git' },
      /--source \/ SYNC_SOURCE: "https:\/\/example\.test\/site\.git" names a git repository/,
    ],
    [{ SYNC_SOURCE: 'git+https://example.test/site.git', SYNC_DEPTH: '-1' }, /--depth \/ SYNC_DEPTH: "-1"/],
    [
      { SYNC_SOURCE: '/srv/content', SYNC_REF: 'main' },
      /--ref \/ SYNC_REF: "main" applies to git sources only/,
    ],
    [
      { SYNC_SOURCE: '/srv/content', SYNC_BEARER_TOKEN_FILE: '/etc/hostname' },
      /--bearer-token-file \/ SYNC_BEARER_TOKEN_FILE: applies to URL sources/,
    ],
    [
      { SYNC_SOURCE: 'git+https://example.test/site.git', SYNC_USERNAME: 'u', SYNC_PASSWORD_FILE: '/nope' },
      /--password-file \/ SYNC_PASSWORD_FILE: "\/nope": cannot read \/nope \(ENOENT\)/,
    ],
  ])('exits 2 with one line naming the setting: %o', async (env, why) => {
    const c = run(env);
    expect(await c.exited).toBe(2);
    const said = c.stderr() + c.lines.map((l) => l.msg).join('\n');
    expect(said).toMatch(why);
  });

  it('lists every setting in --help', async () => {
    const c = run({}, ['--help']);
    expect(await c.exited).toBe(0);
  });
});

describe('SYNC_ONCE (init container)', () => {
  it('syncs once, calls the webhook, and exits 0', async () => {
    const src = join(root, 'once-src');
    const target = join(root, 'once-www');
    mkdirSync(join(src, 'css'), { recursive: true });
    writeFileSync(join(src, 'index.html'), 'home');
    writeFileSync(join(src, 'css/a.css'), 'a{}');
    const hooks: string[] = [];
    const hook: Server = createServer((req, res) => {
      let b = '';
      req.on('data', (c: Buffer) => {
        b += c.toString();
      });
      req.on('end', () => {
        hooks.push(b);
        res.writeHead(200).end();
      });
    });
    const port = await listen(hook, { port: 0, host: '127.0.0.1', setting: 'test' });
    try {
      const c = run({
        SYNC_SOURCE: src,
        SYNC_TARGET: target,
        SYNC_ONCE: 'true',
        SYNC_WEBHOOK_URL: `http://127.0.0.1:${port}/`,
      });
      expect(await c.exited).toBe(0);
      expect(currentTree(target)).toEqual({ 'index.html': 'home', 'css/a.css': 'a{}' });
      const id = readlinkSync(join(target, 'current')).slice('.snapshots/'.length);
      expect(hooks.map((h) => JSON.parse(h))).toEqual([{ snapshot: id }]);
      expect(c.lines.at(-1)?.msg).toBe('synced once; exiting');
    } finally {
      await closeServer(hook);
    }
  });

  it('exits 1 with the reason when the source is missing', async () => {
    const c = run({
      SYNC_SOURCE: join(root, 'nope'),
      SYNC_TARGET: join(root, 'nope-www'),
      SYNC_ONCE: 'true',
    });
    expect(await c.exited).toBe(1);
    expect(c.lines.find((l) => l.level === 'fatal')?.msg).toMatch(
      /sync failed: source directory .*nope is missing/,
    );
  });

  it('exits 1 naming the broken server when an unconditional first GET is answered 304', async () => {
    const s: Server = createServer((_req, res) => res.writeHead(304).end());
    const port = await listen(s, { port: 0, host: '127.0.0.1', setting: 'test' });
    try {
      const target = join(root, 'url304-www');
      const c = run({
        SYNC_SOURCE: `http://127.0.0.1:${port}/site.tar.gz`,
        SYNC_TARGET: target,
        SYNC_ONCE: 'true',
      });
      expect(await c.exited).toBe(1);
      expect(c.lines.find((l) => l.level === 'fatal')?.msg).toMatch(
        /answered 304 Not Modified to a request without If-None-Match or If-Modified-Since; the server is broken/,
      );
      expect(existsSync(join(target, 'current'))).toBe(false);
    } finally {
      await closeServer(s);
    }
  });

  it('exits 0 on SIGTERM while the one sync is under way (a download that hangs)', async () => {
    const s: Server = createServer(() => {}); // takes the request, never answers
    const port = await listen(s, { port: 0, host: '127.0.0.1', setting: 'test' });
    try {
      const c = run({
        SYNC_SOURCE: `http://127.0.0.1:${port}/site.tar.gz`,
        SYNC_TARGET: join(root, 'hang-www'),
        SYNC_ONCE: 'true',
      });
      await waitFor('the sync under way', () => c.lines.some((l) => l.msg === 'content-sync starting'));
      c.proc.kill('SIGTERM');
      expect(await c.exited).toBe(0);
      expect(c.proc.signalCode).toBeNull();
      expect(c.lines.map((l) => l.msg)).toContain('stopped');
    } finally {
      s.closeAllConnections();
      await closeServer(s);
    }
  });

  it('exits 1 with the reason when the archive URL answers 404', async () => {
    const s: Server = createServer((_req, res) => res.writeHead(404).end());
    const port = await listen(s, { port: 0, host: '127.0.0.1', setting: 'test' });
    try {
      const c = run({
        SYNC_SOURCE: `http://127.0.0.1:${port}/site.tar.gz`,
        SYNC_TARGET: join(root, 'url-www'),
        SYNC_ONCE: 'true',
      });
      expect(await c.exited).toBe(1);
      expect(c.lines.find((l) => l.level === 'fatal')?.msg).toMatch(/answered 404/);
    } finally {
      await closeServer(s);
    }
  });
});

describe('sidecar process', () => {
  it('answers /readyz 503 until the first publish, then 200; /healthz and /metrics', async () => {
    const src = join(root, 'late-src');
    const c = run({ SYNC_SOURCE: src, SYNC_TARGET: join(root, 'late-www'), SYNC_INTERVAL: '200ms' });
    const admin = await waitFor(
      'the admin port',
      () => c.lines.find((l) => l.msg.startsWith('admin server'))?.port,
    );
    const base = `http://127.0.0.1:${admin}`;
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.text()).toMatch(/no snapshot published yet/);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    mkdirSync(src);
    writeFileSync(join(src, 'index.html'), 'late');
    await waitFor('ready', async () => (await fetch(`${base}/readyz`)).status === 200);
    const text = await waitFor('the run counted', async () => {
      const t = await (await fetch(`${base}/metrics`)).text();
      return t.includes('content_sync_runs_total{result="published"} 1') ? t : undefined;
    });
    expect(text).toContain('content_sync_watched_directories 1');
    expect(text).toMatch(/content_sync_runs_total\{result="error"\} [1-9]/);
    c.proc.kill('SIGTERM');
    expect(await c.exited).toBe(0);
  });

  it('POST /sync wakes a sync at once; with a token file, only a call carrying the token', async () => {
    let version = 'v1';
    let gets = 0;
    const s: Server = createServer((_req, res) => {
      gets++;
      const body = makeTarGz([{ path: 'index.html', body: version }]);
      res.writeHead(200, { 'content-length': body.length, etag: `"${version}"` }).end(body);
    });
    const port = await listen(s, { port: 0, host: '127.0.0.1', setting: 'test' });
    const tokenFile = join(root, 'trigger-token');
    writeFileSync(tokenFile, 'let-me-in\n'); // as a Secret's file may hold it: the newline is not the token
    try {
      const target = join(root, 'trigger-www');
      const c = run({
        SYNC_SOURCE: `http://127.0.0.1:${port}/site.tar.gz`,
        SYNC_TARGET: target,
        SYNC_INTERVAL: '1h',
        SYNC_TRIGGER_TOKEN_FILE: tokenFile,
      });
      const admin = await waitFor(
        'the admin port',
        () => c.lines.find((l) => l.msg.startsWith('admin server'))?.port,
      );
      const sync = (headers: Record<string, string> = {}, method = 'POST') =>
        fetch(`http://127.0.0.1:${admin}/sync`, { method, headers });
      await waitFor('v1', () => currentTree(target)?.['index.html'] === 'v1');
      version = 'v2';
      const before = gets;
      for (const headers of [
        {},
        { authorization: 'Bearer let-me-out' },
        { authorization: 'Basic bGV0LW1lLWlu' },
      ] as Record<string, string>[]) {
        const res = await sync(headers);
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="content-sync"');
      }
      expect((await sync({}, 'GET')).status).toBe(405);
      await new Promise((r) => setTimeout(r, 300));
      expect(gets).toBe(before); // refused calls started nothing
      const ok = await sync({ authorization: 'Bearer let-me-in' });
      expect(ok.status).toBe(202);
      await waitFor(
        'v2 without waiting for the interval',
        () => currentTree(target)?.['index.html'] === 'v2',
        5_000,
      );
      // A rotated Secret: the new token works at once, the old one no more.
      writeFileSync(tokenFile, 'rotated');
      expect((await sync({ authorization: 'Bearer let-me-in' })).status).toBe(401);
      expect((await sync({ authorization: 'Bearer rotated' })).status).toBe(202);
      c.proc.kill('SIGTERM');
      expect(await c.exited).toBe(0);
    } finally {
      await closeServer(s);
    }
  });

  it('POST /sync needs no token when no token file is set; a token file that cannot be read stops start-up', async () => {
    const src = join(root, 'trigger-dir');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'index.html'), 'dir');
    const c = run({ SYNC_SOURCE: src, SYNC_TARGET: join(root, 'trigger-dir-www'), SYNC_INTERVAL: '1h' });
    const admin = await waitFor(
      'the admin port',
      () => c.lines.find((l) => l.msg.startsWith('admin server'))?.port,
    );
    expect((await fetch(`http://127.0.0.1:${admin}/sync`, { method: 'POST' })).status).toBe(202);
    c.proc.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    const empty = join(root, 'empty-token');
    writeFileSync(empty, '\n');
    for (const file of [join(root, 'no-such-token'), empty]) {
      const bad = run({
        SYNC_SOURCE: src,
        SYNC_TARGET: join(root, 'trigger-dir-www'),
        SYNC_TRIGGER_TOKEN_FILE: file,
      });
      expect(await bad.exited).toBe(2);
      expect(bad.stderr()).toMatch(
        /invalid setting --trigger-token-file \/ SYNC_TRIGGER_TOKEN_FILE: .* cannot be read as a token/,
      );
    }
  });

  it('on SIGTERM while a big archive is unpacked stops the unpack, removes it and exits 0', async () => {
    // 20,000 entries: seconds of unpacking (13 s on a slow disk), longer than the deadline given.
    const body = makeTarGz(
      Array.from({ length: 20_000 }, (_, i) => ({ path: `d${i % 20}/f${i}.txt`, body: `${i}` })),
    );
    const s: Server = createServer((_req, res) =>
      res.writeHead(200, { 'content-length': body.length }).end(body),
    );
    const port = await listen(s, { port: 0, host: '127.0.0.1', setting: 'test' });
    try {
      const target = join(root, 'unpack-www');
      const work = join(target, '.snapshots', '.work');
      const c = run({
        SYNC_SOURCE: `http://127.0.0.1:${port}/site.tar.gz`,
        SYNC_TARGET: target,
        SYNC_SHUTDOWN_TIMEOUT: '5s',
      });
      await waitFor('the unpack under way', () => existsSync(join(work, 'unpacked-1', 'd0')), 20_000);
      c.proc.kill('SIGTERM');
      expect(await c.exited).toBe(0);
      expect(c.lines.some((l) => /deadline passed/.test(l.msg))).toBe(false);
      expect(existsSync(work)).toBe(false);
      expect(existsSync(join(target, 'current'))).toBe(false);
    } finally {
      await closeServer(s);
    }
  }, 60_000);
});
