import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { closeServer, listen, renderMetrics } from '@multipod/service';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  currentTree,
  type DirSetup,
  dirSetup,
  fillTree,
  putFile,
  readTree,
  snapshotIds,
  type TestSyncer,
  waitFor,
} from './testing.ts';

let d: DirSetup;
let root: string;
let src: string;
let target: string;

const start = (config: Parameters<DirSetup['start']>[0] = {}) => d.start(config);
const put = (rel: string, body: string) => d.put(rel, body);
const published = async (t: TestSyncer) => {
  const text = (await renderMetrics(t.syncer.metrics.registry, undefined)).body;
  return Number(/content_sync_runs_total\{result="published"\} (\d+)/.exec(text)?.[1]);
};

beforeEach(() => {
  d = dirSetup();
  ({ root, src, target } = d);
});

afterEach(() => d.remove());

describe('directory source', () => {
  it('publishes the first snapshot behind a relative symlink, and is ready only then', async () => {
    put('index.html', '<h1>v1</h1>');
    put('css/site.css', 'body{}');
    const { syncer } = d.make();
    await syncer.prepare();
    expect((await syncer.health.ready()).ok).toBe(false);
    await syncer.start();
    expect((await syncer.health.ready()).ok).toBe(true);
    const link = readlinkSync(join(target, 'current'));
    expect(link).toMatch(/^\.snapshots\/\d{8}-\d{6}-\d{3}-\d{4}$/);
    expect(currentTree(target)).toEqual({ 'index.html': '<h1>v1</h1>', 'css/site.css': 'body{}' });
  });

  it('follows add, change, delete, rename and nested directories', async () => {
    put('index.html', 'home');
    put('keep.txt', 'unchanged');
    const t = await start();
    put('new.txt', 'added');
    await waitFor('the added file', () => currentTree(target)?.['new.txt'] === 'added');
    put('index.html', 'home v2');
    await waitFor('the change', () => currentTree(target)?.['index.html'] === 'home v2');
    rmSync(join(src, 'new.txt'));
    await waitFor('the delete', () => !('new.txt' in currentTree(target)!));
    put('a/b/c/deep.txt', 'deep');
    await waitFor('the nested file', () => currentTree(target)?.['a/b/c/deep.txt'] === 'deep');
    renameSync(join(src, 'a/b'), join(src, 'a/z'));
    await waitFor('the renamed directory', () => {
      const tree = currentTree(target)!;
      return tree['a/z/c/deep.txt'] === 'deep' && !('a/b/c/deep.txt' in tree);
    });
    put('a/z/c/deep.txt', 'deeper');
    await waitFor(
      'a change in a renamed directory',
      () => currentTree(target)?.['a/z/c/deep.txt'] === 'deeper',
    );
    expect(currentTree(target)).toEqual({
      'index.html': 'home v2',
      'keep.txt': 'unchanged',
      'a/z/c/deep.txt': 'deeper',
    });
    expect(t.syncer.watchedDirectories).toBe(4); // src, a, a/z, a/z/c: none per file
  });

  it('hard-links unchanged files from the previous snapshot and copies changed ones', async () => {
    put('same.txt', 'same');
    put('edit.txt', 'v1');
    await start();
    const first = realpathSync(join(target, 'current'));
    put('edit.txt', 'v2');
    await waitFor('the edit', () => currentTree(target)?.['edit.txt'] === 'v2');
    const second = realpathSync(join(target, 'current'));
    expect(second).not.toBe(first);
    expect(statSync(join(second, 'same.txt')).ino).toBe(statSync(join(first, 'same.txt')).ino);
    expect(statSync(join(second, 'edit.txt')).ino).not.toBe(statSync(join(first, 'edit.txt')).ino);
    // The snapshot's file is a copy, never the source's inode: editing the source in place cannot
    // change what is served.
    expect(statSync(join(second, 'edit.txt')).ino).not.toBe(statSync(join(src, 'edit.txt')).ino);
  });

  it('publishes an edit that keeps the size within the same second (rsync --delete misses it)', async () => {
    put('page.html', 'aaaa');
    await start();
    for (const v of ['bbbb', 'cccc', 'dddd']) {
      put('page.html', v);
      await waitFor(`content ${v}`, () => currentTree(target)?.['page.html'] === v);
    }
  });

  it('leaves out dotfiles, editor temp files and excluded paths; refuses symlinks leaving the source', async () => {
    put('index.html', 'home');
    put('.env', 'SECRET=1');
    put('index.html~', 'backup');
    put('.index.html.swp', 'swap');
    put('drafts/wip.html', 'draft');
    put('img/logo.psd', 'psd');
    put('img/logo.png', 'png');
    writeFileSync(join(root, 'outside.txt'), 'outside');
    symlinkSync(join(root, 'outside.txt'), join(src, 'escape.txt'));
    symlinkSync('/etc', join(src, 'etc'));
    symlinkSync('img/logo.png', join(src, 'logo.png'));
    symlinkSync('img', join(src, 'images'));
    const t = await start({ target, exclude: ['drafts/**', '**/*.psd'] });
    expect(currentTree(target)).toEqual({
      'index.html': 'home',
      'img/logo.png': 'png',
      'logo.png': 'png',
      'images/logo.png': 'png',
    });
    const warn = t.logs.find((l) => l.msg.startsWith('symlinks refused'));
    expect(warn?.refused).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^escape\.txt -> .*outside\.txt/),
        expect.stringMatching(/^etc -> /),
      ]),
    );
  });

  it('publishes source files with setuid, setgid and sticky bits without those bits', async () => {
    put('suid', '#!/bin/sh');
    put('sgid', '#!/bin/sh');
    put('plain.sh', '#!/bin/sh');
    chmodSync(join(src, 'suid'), 0o4755);
    chmodSync(join(src, 'sgid'), 0o2711);
    chmodSync(join(src, 'plain.sh'), 0o750);
    await start();
    const live = realpathSync(join(target, 'current'));
    const mode = (rel: string) => statSync(join(live, rel)).mode & 0o7777;
    expect(mode('suid')).toBe(0o755);
    expect(mode('sgid')).toBe(0o711);
    expect(mode('plain.sh')).toBe(0o750);
  });

  it('sees a ConfigMap update (the kubelet swaps the ..data symlink) as one change', async () => {
    // The layout the kubelet writes: keys are symlinks through ..data to a timestamped directory.
    const version = (name: string, v: string) => {
      mkdirSync(join(src, name));
      writeFileSync(join(src, name, 'index.html'), `<p>${v}</p>`);
      writeFileSync(join(src, name, 'app.css'), `/* ${v} */`);
    };
    version('..2026_11_25_13_00_00.1', 'v1');
    symlinkSync('..2026_11_25_13_00_00.1', join(src, '..data'));
    symlinkSync('..data/index.html', join(src, 'index.html'));
    symlinkSync('..data/app.css', join(src, 'app.css'));
    const t = await start();
    expect(currentTree(target)).toEqual({ 'index.html': '<p>v1</p>', 'app.css': '/* v1 */' });
    const before = await published(t);

    version('..2026_11_25_13_01_00.2', 'v2');
    symlinkSync('..2026_11_25_13_01_00.2', join(src, '..data_tmp'));
    renameSync(join(src, '..data_tmp'), join(src, '..data'));
    rmSync(join(src, '..2026_11_25_13_00_00.1'), { recursive: true });

    await waitFor('the new ConfigMap version', () => currentTree(target)?.['index.html'] === '<p>v2</p>');
    await new Promise((r) => setTimeout(r, 300)); // any straggling event would publish again by now
    expect(currentTree(target)).toEqual({ 'index.html': '<p>v2</p>', 'app.css': '/* v2 */' });
    expect((await published(t)) - before).toBe(1);
  });

  it('turns a burst of 1,000 writes into a few snapshots, none of them torn', async () => {
    put('index.html', 'home');
    const t = await start();
    const before = await published(t);
    for (let i = 0; i < 1000; i++) put(`burst/f${String(i).padStart(4, '0')}.txt`, `file ${i} `.repeat(20));
    await waitFor('all 1,000 files', () => Object.keys(currentTree(target)!).length === 1001, 20_000);
    await new Promise((r) => setTimeout(r, 200));
    const runs = (await published(t)) - before;
    expect(runs).toBeGreaterThanOrEqual(1);
    expect(runs).toBeLessThanOrEqual(10);
    // Every snapshot ever published (the pruner keeps them for a minute) holds whole files only.
    for (const id of snapshotIds(target)) {
      const dir = join(target, '.snapshots', id, 'burst');
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir)) {
        const i = Number(name.slice(1, 5));
        expect(readFileSync(join(dir, name), 'utf8'), `${id}/${name}`).toBe(`file ${i} `.repeat(20));
      }
    }
  });

  it('keeps the last good snapshot while the source is gone, and publishes when it is back', async () => {
    put('index.html', 'v1');
    const t = await start({ target, interval: 200 });
    const good = realpathSync(join(target, 'current'));
    renameSync(src, `${src}.away`);
    await waitFor('a failed sync', () => t.logs.find((l) => l.level === 'error' && /missing/.test(l.msg)));
    expect(realpathSync(join(target, 'current'))).toBe(good);
    expect(currentTree(target)).toEqual({ 'index.html': 'v1' });
    expect((await t.syncer.health.ready()).ok).toBe(true);
    writeFileSync(join(`${src}.away`, 'index.html'), 'v2');
    renameSync(`${src}.away`, src);
    await waitFor('the returned source', () => currentTree(target)?.['index.html'] === 'v2');
    put('later.txt', 'watched again');
    await waitFor('a change after the return', () => currentTree(target)?.['later.txt'] === 'watched again');
  });

  it('fails /healthz after SYNC_MAX_FAILURES consecutive failures; /readyz says why', async () => {
    rmSync(src, { recursive: true });
    const t = await start({ target, interval: 100, maxFailures: 3 });
    expect((await t.syncer.health.live()).ok).toBe(true);
    const ready = await t.syncer.health.ready();
    expect(ready).toMatchObject({ ok: false });
    expect(ready.reason).toMatch(/no snapshot published yet: source directory .* is missing/);
    const live = await waitFor('liveness to fail', async () => {
      const p = await t.syncer.health.live();
      return p.ok ? undefined : p;
    });
    expect(live?.reason).toMatch(/3 syncs failed in a row/);
    mkdirSync(src);
    put('index.html', 'back');
    await waitFor(
      'recovery',
      async () => (await t.syncer.health.live()).ok && (await t.syncer.health.ready()).ok,
    );
  });

  it('prunes replaced snapshots after the grace period, never the current one', async () => {
    put('index.html', 'v0');
    await start({ target, pruneGrace: 300 });
    for (let v = 1; v <= 4; v++) {
      put('index.html', `v${v}`);
      await waitFor(`v${v}`, () => currentTree(target)?.['index.html'] === `v${v}`);
    }
    expect(snapshotIds(target).length).toBeGreaterThan(2);
    // What stays: the current snapshot, and the one it replaced (kept to be recycled).
    await waitFor('old snapshots pruned', () => snapshotIds(target).length === 2, 5_000);
    const current = readlinkSync(join(target, 'current')).slice('.snapshots/'.length);
    expect(snapshotIds(target)).toContain(current);
    expect(currentTree(target)).toEqual({ 'index.html': 'v4' });
  });

  it('prunes only snapshots it made: other entries under .snapshots are left alone', async () => {
    // A target whose .snapshots is someone else's (snapper's /.snapshots, a backup tool's).
    putFile(join(target, '.snapshots'), '1/info.xml', 'not ours');
    putFile(join(target, '.snapshots'), 'backup-2026', 'not ours');
    put('index.html', 'v0');
    await start({ target, pruneGrace: 0 });
    for (let v = 1; v <= 3; v++) {
      put('index.html', `v${v}`);
      await waitFor(`v${v}`, () => currentTree(target)?.['index.html'] === `v${v}`);
    }
    await waitFor(
      'old snapshots pruned',
      () => snapshotIds(target).filter((n) => /^\d{8}-/.test(n)).length <= 2,
    );
    expect(readFileSync(join(target, '.snapshots/1/info.xml'), 'utf8')).toBe('not ours');
    expect(readFileSync(join(target, '.snapshots/backup-2026'), 'utf8')).toBe('not ours');
  });

  it('recycles an expired snapshot into the next one, changing only what changed', async () => {
    put('same.txt', 'same');
    put('edit.txt', 'v1');
    put('gone.txt', 'gone');
    put('dir/inner.txt', 'inner');
    put('becomes-dir', 'a file first');
    put('becomes-file/x.txt', 'a dir first');
    const t = await start({ target, pruneGrace: 100 });
    const first = realpathSync(join(target, 'current'));
    const sameIno = statSync(join(first, 'same.txt')).ino;
    put('edit.txt', 'v2');
    await waitFor('v2', () => currentTree(target)?.['edit.txt'] === 'v2');
    const second = realpathSync(join(target, 'current'));
    const secondTree = currentTree(target);
    await new Promise((r) => setTimeout(r, 150)); // the first snapshot's grace passes
    put('edit.txt', 'v3');
    rmSync(join(src, 'gone.txt'));
    rmSync(join(src, 'dir'), { recursive: true });
    put('new/deep/n.txt', 'new');
    rmSync(join(src, 'becomes-dir'));
    put('becomes-dir/y.txt', 'now a dir');
    rmSync(join(src, 'becomes-file'), { recursive: true });
    put('becomes-file', 'now a file');
    await waitFor(
      'v3',
      () => currentTree(target)?.['edit.txt'] === 'v3' && currentTree(target)?.['becomes-file'],
    );
    expect(t.logs.some((l) => l.msg === 'published' && l.recycled === true)).toBe(true);
    expect(existsSync(first)).toBe(false); // taken over, under the new id
    expect(currentTree(target)).toEqual({
      'same.txt': 'same',
      'edit.txt': 'v3',
      'new/deep/n.txt': 'new',
      'becomes-dir/y.txt': 'now a dir',
      'becomes-file': 'now a file',
    });
    expect(statSync(join(target, 'current', 'same.txt')).ino).toBe(sameIno);
    expect(readTree(second)).toEqual(secondTree); // the snapshot it replaced is untouched
  });

  it('exports its metrics with the current snapshot id as a label', async () => {
    put('a.txt', 'aaaa');
    put('b/c.txt', 'cc');
    const t = await start();
    const { body } = await renderMetrics(t.syncer.metrics.registry, undefined);
    const id = readlinkSync(join(target, 'current')).slice('.snapshots/'.length);
    expect(body).toContain('content_sync_runs_total{result="published"} 1');
    expect(body).toContain(`content_sync_snapshot_info{snapshot="${id}"} 1`);
    expect(body).toContain('content_sync_snapshot_files 2');
    expect(body).toContain('content_sync_snapshot_bytes 6');
    expect(body).toContain('content_sync_watched_directories 2');
    expect(body).toMatch(/content_sync_run_duration_seconds_count\{result="published"\} 1/);
    expect(body).toMatch(/content_sync_last_success_timestamp_seconds \d+/);
  });

  it('puts one inotify watch on each directory, none on files', async () => {
    fillTree(src, 10, 30);
    const count = () => {
      let n = 0;
      for (const fd of readdirSync('/proc/self/fdinfo')) {
        try {
          n += readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8')
            .split('\n')
            .filter((l) => l.startsWith('inotify')).length;
        } catch {
          // fd closed meanwhile
        }
      }
      return n;
    };
    const before = count();
    const t = await start();
    expect(count() - before).toBe(11); // 10 directories + the source itself, for 300 files
    expect(t.syncer.watchedDirectories).toBe(11);
  });
});

describe('webhook', () => {
  let server: Server;
  let url: string;
  const calls: Array<{ body: string; status: number }> = [];

  beforeEach(async () => {
    calls.length = 0;
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        const status = calls.length < 2 ? 503 : 204; // the first two calls fail
        calls.push({ body, status });
        res.writeHead(status).end();
      });
    });
    url = `http://127.0.0.1:${await listen(server, { port: 0, host: '127.0.0.1', setting: 'test' })}/reload`;
  });

  afterEach(() => closeServer(server));

  it('POSTs the snapshot id after the first publish, retrying with backoff until it is taken', async () => {
    put('index.html', 'v1');
    const t = await start({ target, webhookUrl: url, webhookRetries: 5 });
    const id = readlinkSync(join(target, 'current')).slice('.snapshots/'.length);
    await waitFor('three calls', () => calls.length === 3);
    expect(calls.map((c) => c.status)).toEqual([503, 503, 204]);
    for (const c of calls) expect(JSON.parse(c.body)).toEqual({ snapshot: id });
    const body = await waitFor('the success counted', async () => {
      const text = (await renderMetrics(t.syncer.metrics.registry, undefined)).body;
      return text.includes('content_sync_webhook_calls_total{result="success"} 1') ? text : undefined;
    });
    expect(body).toContain('content_sync_webhook_calls_total{result="retry"} 2');
    put('index.html', 'v2');
    await waitFor('a call for the second snapshot', () => calls.length === 4);
    expect(JSON.parse(calls[3]!.body).snapshot).toBe(
      readlinkSync(join(target, 'current')).slice('.snapshots/'.length),
    );
  });
});
