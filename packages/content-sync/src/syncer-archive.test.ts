// The .tar.gz source against a real local HTTP server: conditional polling, checks before
// publishing, and the last good snapshot kept through every kind of bad archive.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { closeServer, listen, renderMetrics } from '@multipod/service';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  currentTree,
  makeSyncer,
  makeTarGz,
  removeDir,
  snapshotIds,
  type TestSyncer,
  tempDir,
  waitFor,
} from './testing.ts';

let server: Server;
let url: string;
let archive: Buffer = Buffer.alloc(0);
let status = 200;
let etags = true;
const seen: number[] = [];

let root: string;
let target: string;
let running: TestSyncer | undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (status !== 200) {
      seen.push(status);
      res.writeHead(status).end('broken');
      return;
    }
    const tag = `"${createHash('sha256').update(archive).digest('hex').slice(0, 16)}"`;
    if (etags && req.headers['if-none-match'] === tag) {
      seen.push(304);
      res.writeHead(304, { etag: tag }).end();
      return;
    }
    seen.push(200);
    res
      .writeHead(200, {
        'content-type': 'application/gzip',
        'content-length': archive.length,
        ...(etags ? { etag: tag } : {}),
      })
      .end(archive);
  });
  url = `http://127.0.0.1:${await listen(server, { port: 0, host: '127.0.0.1', setting: 'test' })}/site.tar.gz`;
});
afterAll(() => closeServer(server));

beforeEach(() => {
  root = tempDir('archive');
  target = join(root, 'www');
  seen.length = 0;
  status = 200;
  etags = true;
  archive = makeTarGz([
    { path: 'index.html', body: '<h1>v1</h1>' },
    { path: 'css/', type: 'Directory' },
    { path: 'css/site.css', body: 'body{}' },
  ]);
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
  removeDir(root);
});

const start = async (extra: Parameters<typeof makeSyncer>[1] | object = {}) => {
  running = makeSyncer({ kind: 'archive', url }, { target, interval: 100, ...extra });
  await running.syncer.prepare();
  await running.syncer.start();
  return running;
};
const metric = async (t: TestSyncer, name: string) => {
  const text = (await renderMetrics(t.syncer.metrics.registry, undefined)).body;
  return Number(new RegExp(`${name.replace(/[{}]/g, '\\$&')} (\\d+)`).exec(text)?.[1]);
};

describe('archive source', () => {
  it('publishes the archive, then costs one 304 per poll while it is unchanged', async () => {
    const t = await start();
    expect(currentTree(target)).toEqual({ 'index.html': '<h1>v1</h1>', 'css/site.css': 'body{}' });
    // Counted once the sync that got the 304 is over (the server sees it a moment earlier).
    await waitFor(
      'three unchanged polls',
      async () => (await metric(t, 'content_sync_runs_total{result="unchanged"}')) >= 3,
    );
    expect(seen.filter((s) => s === 304).length).toBeGreaterThanOrEqual(3);
    expect(seen[0]).toBe(200);
    expect(seen.slice(1).every((s) => s === 304)).toBe(true);
    expect(snapshotIds(target)).toHaveLength(1);
    expect(readdirSync(join(target, '.snapshots', '.work'))).toEqual([]); // staging cleaned up
  });

  it('publishes a new version when the archive changes', async () => {
    await start();
    archive = makeTarGz([{ path: 'index.html', body: '<h1>v2</h1>' }]);
    await waitFor('v2', () => currentTree(target)?.['index.html'] === '<h1>v2</h1>');
    expect(currentTree(target)).toEqual({ 'index.html': '<h1>v2</h1>' });
  });

  it('does not republish the same bytes from a server without validators', async () => {
    etags = false;
    const t = await start();
    await waitFor('three polls', () => seen.length >= 4);
    expect(snapshotIds(target)).toHaveLength(1);
    expect(await metric(t, 'content_sync_runs_total{result="published"}')).toBe(1);
  });

  it.each([
    [
      'a truncated archive',
      () => {
        const whole = makeTarGz([{ path: 'index.html', body: 'x'.repeat(20_000) }]);
        return whole.subarray(0, whole.length - 40);
      },
      /damaged or truncated/,
    ],
    [
      'a tar bomb',
      () => makeTarGz(Array.from({ length: 300 }, (_, i) => ({ path: `bomb/${i}`, body: 'x' }))),
      /tar bomb refused: more than 200 entries/,
    ],
    ['an absolute path', () => makeTarGz([{ path: '/tmp/content-sync-pwned', body: 'x' }]), /absolute path/],
    ['a .. path', () => makeTarGz([{ path: '../../content-sync-pwned', body: 'x' }]), /climbs out/],
    [
      'a symlink out of the tree',
      () => makeTarGz([{ path: 'passwd', type: 'SymbolicLink', linkpath: '../../../../etc/passwd' }]),
      /outside the tree/,
    ],
  ] as Array<[string, () => Buffer, RegExp]>)(
    'keeps the last good snapshot on %s',
    async (_name, make, why) => {
      const t = await start({ maxFiles: 200 });
      const good = currentTree(target);
      archive = make();
      const line = await waitFor('the refusal', () =>
        t.logs.find((l) => l.level === 'error' && why.test(l.msg)),
      );
      expect(line?.msg).toMatch(/keeping the current snapshot/);
      expect(currentTree(target)).toEqual(good);
      expect(existsSync('/tmp/content-sync-pwned')).toBe(false);
      expect(existsSync(join(root, 'content-sync-pwned'))).toBe(false);
      expect((await t.syncer.health.ready()).ok).toBe(true);
      expect(await metric(t, 'content_sync_runs_total{result="error"}')).toBeGreaterThanOrEqual(1);
      // Fixed upstream: published again.
      archive = makeTarGz([{ path: 'index.html', body: 'fixed' }]);
      await waitFor('the fixed archive', () => currentTree(target)?.['index.html'] === 'fixed');
    },
  );

  it('publishes files with setuid, setgid and sticky bits without those bits', async () => {
    archive = makeTarGz([
      { path: 'bin/', type: 'Directory', mode: 0o3755 },
      { path: 'bin/suid', body: '#!/bin/sh', mode: 0o4755 },
      { path: 'bin/sgid', body: '#!/bin/sh', mode: 0o2750 },
      { path: 'bin/sticky', body: 'x', mode: 0o1644 },
      { path: 'bin/all', body: 'x', mode: 0o7777 },
    ]);
    await start();
    const live = realpathSync(join(target, 'current'));
    const mode = (rel: string) => statSync(join(live, rel)).mode & 0o7777;
    const masked = (m: number) => m & ~process.umask();
    // The permission bits are kept as the archive has them (less the umask), only those three go.
    expect(mode('bin/suid')).toBe(masked(0o755));
    expect(mode('bin/sgid')).toBe(masked(0o750));
    expect(mode('bin/sticky')).toBe(masked(0o644));
    expect(mode('bin/all')).toBe(masked(0o777));
    expect(mode('bin') & 0o7000).toBe(0);
  });

  it('keeps the last good snapshot when the server answers 500, and names the status', async () => {
    const t = await start();
    status = 500;
    const line = await waitFor('the error', () => t.logs.find((l) => l.level === 'error'));
    expect(line?.msg).toMatch(/answered 500/);
    expect(currentTree(target)?.['index.html']).toBe('<h1>v1</h1>');
  });
});
