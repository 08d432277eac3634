// git sources against a real smart-HTTP server (Debian's git http-backend behind the CGI bridge of
// testing-git.ts): a pushed commit is published, whole; an unchanged ref publishes nothing and
// costs one ls-refs; force-pushes, moved tags, commit ids, SYNC_GIT_ROOT; and every way the
// source breaks (ref deleted, server down, credentials asked for) keeps the last good snapshot.
import { readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { closeServer, listen, renderMetrics } from '@multipod/service';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SourceKind } from './config.ts';
import { Credentials } from './credentials.ts';
import {
  currentTree,
  makeSyncer,
  readTree,
  removeDir,
  runMain,
  snapshotIds,
  type TestSyncer,
  tempDir,
  waitFor,
} from './testing.ts';
import { createRepo, type GitRepo, type GitServer, runGit, startGitServer } from './testing-git.ts';

let root: string;
let server: GitServer;
let repo: GitRepo;
let target: string;
let running: TestSyncer | undefined;

beforeAll(async () => {
  root = tempDir('git');
  server = await startGitServer({ root });
});
afterAll(async () => {
  await server.stop();
  removeDir(root);
});
beforeEach(() => {
  repo = createRepo(root);
  target = join(root, 'www');
  server.requests.length = 0;
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
  rmSync(target, { recursive: true, force: true });
});

const git = (extra: Partial<Extract<SourceKind, { kind: 'git' }>> = {}): SourceKind => ({
  kind: 'git',
  url: `${server.base}/site.git`,
  ref: undefined,
  depth: 1,
  root: '',
  ...extra,
});

const start = async (source = git(), config: Parameters<typeof makeSyncer>[1] | object = {}) => {
  running = makeSyncer(source, { target, interval: 100, ...config });
  await running.syncer.prepare();
  await running.syncer.start();
  return running;
};

const metrics = async (t: TestSyncer) => (await renderMetrics(t.syncer.metrics.registry, undefined)).body;
const metric = async (t: TestSyncer, name: string) =>
  Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\d+)`, 'm').exec(await metrics(t))?.[1]);
const published = (t: TestSyncer) => metric(t, 'content_sync_runs_total{result="published"}');

describe('git source', () => {
  it('publishes the commit HEAD names, with its id in the metrics, /readyz and the log', async () => {
    const c1 = repo.commit({ 'index.html': '<h1>v1</h1>', 'css/site.css': 'body{}' });
    const t = await start();
    expect(currentTree(target)).toEqual({ 'index.html': '<h1>v1</h1>', 'css/site.css': 'body{}' });
    expect(await metrics(t)).toMatch(
      new RegExp(`content_sync_snapshot_info\\{snapshot="${t.syncer.current}",commit="${c1}"\\} 1`),
    );
    expect((await t.syncer.health.ready()).reason).toBe(`snapshot ${t.syncer.current}, commit ${c1}`);
    expect(t.logs.find((l) => l.msg === 'published')).toMatchObject({ commit: c1, files: 2 });
  });

  it('publishes a pushed commit; an unchanged ref costs one ls-refs and publishes nothing', async () => {
    repo.commit({ 'index.html': 'v1', 'a.txt': 'a' });
    const t = await start();
    const c2 = repo.commit({ 'index.html': 'v2' });
    await waitFor('v2', () => currentTree(target)?.['index.html'] === 'v2');
    expect(currentTree(target)).toEqual({ 'index.html': 'v2', 'a.txt': 'a' });
    expect(t.logs.filter((l) => l.msg === 'published').at(-1)?.commit).toBe(c2);
    const before = server.requests.length;
    await waitFor(
      'three unchanged polls',
      async () => (await metric(t, 'content_sync_runs_total{result="unchanged"}')) >= 3,
    );
    expect(await published(t)).toBe(2);
    expect(snapshotIds(target)).toHaveLength(2);
    // Each poll: the v2 discovery (GET info/refs) and one ls-refs (POST): no fetch.
    const polls = server.requests.slice(before);
    expect(
      polls.every((r) => r.path.endsWith('/info/refs?service=git-upload-pack') || r.method === 'POST'),
    ).toBe(true);
    expect(polls.filter((r) => r.method === 'POST').every((r) => r.bytes < 500)).toBe(true);
  });

  it('a push notification (wake, as POST /sync) publishes at once, without waiting for the interval', async () => {
    repo.commit({ 'index.html': 'v1' });
    const t = await start(git(), { interval: 3_600_000 });
    const c2 = repo.commit({ 'index.html': 'v2' });
    const t0 = Date.now();
    t.syncer.wake();
    await waitFor('v2', () => currentTree(target)?.['index.html'] === 'v2', 5_000);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(t.logs.filter((l) => l.msg === 'published').at(-1)?.commit).toBe(c2);
  });

  it("calls the webhook after each publish with the commit, in the body and in git-sync's Gitsync-Hash header", async () => {
    const calls: Array<{ hash: string | undefined; body: unknown }> = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        calls.push({ hash: req.headers['gitsync-hash'] as string | undefined, body: JSON.parse(body) });
        res.writeHead(200).end();
      });
    });
    const port = await listen(hook, { port: 0, host: '127.0.0.1', setting: 'test webhook' });
    try {
      const c1 = repo.commit({ 'index.html': 'v1' });
      const t = await start(git(), { webhookUrl: `http://127.0.0.1:${port}/hook` });
      await t.syncer.flush();
      expect(calls).toEqual([{ hash: c1, body: { snapshot: t.syncer.current, commit: c1 } }]);
    } finally {
      await closeServer(hook);
    }
  });

  it('fetches only what a new commit adds (a thin pack), and links the unchanged files', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 300; i++) files[`d${i % 10}/f${i}.txt`] = `file ${i} `.repeat(40);
    repo.commit(files);
    const t = await start();
    const first = realpathSync(join(target, 'current'));
    const fullPack = Math.max(...server.requests.filter((r) => r.method === 'POST').map((r) => r.bytes));
    server.requests.length = 0;
    repo.commit({ 'd3/f3.txt': 'changed' });
    await waitFor('the change', () => currentTree(target)?.['d3/f3.txt'] === 'changed');
    const fetches = server.requests.filter((r) => r.method === 'POST').map((r) => r.bytes);
    expect(Math.max(...fetches)).toBeLessThan(fullPack / 10);
    const second = realpathSync(join(target, 'current'));
    expect(statSync(join(second, 'd0/f0.txt')).ino).toBe(statSync(join(first, 'd0/f0.txt')).ino);
    expect(statSync(join(second, 'd3/f3.txt')).ino).not.toBe(statSync(join(first, 'd3/f3.txt')).ino);
    expect(readFileSync(join(first, 'd3/f3.txt'), 'utf8')).toBe('file 3 '.repeat(40)); // untouched
    // The rest linked from the live snapshot, or kept in the spare that was recycled.
    const line = t.logs.filter((l) => l.msg === 'published').at(-1)!;
    expect(line.copied).toBe(1);
    expect(Number(line.linked) + Number(line.kept ?? 0)).toBe(299);
  });

  it('a long run of pushes keeps fetching thin packs: no whole refetch while the packs stay small', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 300; i++) files[`d${i % 10}/f${i}.txt`] = `file ${i} `.repeat(40);
    repo.commit(files);
    await start();
    const fullPack = Math.max(...server.requests.filter((r) => r.method === 'POST').map((r) => r.bytes));
    server.requests.length = 0;
    for (let n = 1; n <= 24; n++) {
      repo.commit({ [`d${n % 10}/f${n}.txt`]: `push ${n}` });
      await waitFor(`push ${n}`, () => currentTree(target)?.[`d${n % 10}/f${n}.txt`] === `push ${n}`);
    }
    const biggest = Math.max(...server.requests.filter((r) => r.method === 'POST').map((r) => r.bytes));
    expect(biggest).toBeLessThan(fullPack / 10);
  });

  it('ten pushes in a burst: the last one is served, and every snapshot is one whole commit', async () => {
    const version = (n: number) => ({
      'index.html': `v${n}`,
      'a/b.txt': `v${n}`,
      'a/c/d.txt': `v${n}`,
      [`only-in-${n % 3}.txt`]: `v${n}`,
    });
    repo.commit(version(0));
    const t = await start(git(), { interval: 20 });
    const mixed: string[] = [];
    let reads = 0;
    let reading = true;
    const reader = (async () => {
      while (reading) {
        try {
          const seen = new Set(Object.values(readTree(realpathSync(join(target, 'current')))));
          reads++;
          if (seen.size !== 1) mixed.push([...seen].join(','));
        } catch {
          // a snapshot pruned between resolving and reading: not a read
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    let last = '';
    for (let n = 1; n <= 10; n++) last = repo.commit({ ...version(n), [`only-in-${(n + 2) % 3}.txt`]: null });
    await waitFor('the last commit', () => currentTree(target)?.['index.html'] === 'v10');
    reading = false;
    await reader;
    expect(mixed).toEqual([]);
    expect(reads).toBeGreaterThan(0);
    expect(t.logs.filter((l) => l.msg === 'published').at(-1)?.commit).toBe(last);
    for (const id of snapshotIds(target)) {
      const files = readTree(join(target, '.snapshots', id));
      expect(new Set(Object.values(files)).size, `snapshot ${id}: ${JSON.stringify(files)}`).toBe(1);
      expect(Object.keys(files).sort()).toHaveLength(4);
    }
  });

  it('publishes a force-push (history rewritten to an unrelated commit)', async () => {
    repo.commit({ 'index.html': 'v1' });
    repo.commit({ 'index.html': 'v2', 'extra.txt': 'x' });
    await start();
    expect(currentTree(target)).toEqual({ 'index.html': 'v2', 'extra.txt': 'x' });
    repo.git('checkout', '-q', '--orphan', 'rewritten');
    repo.git('rm', '-rqf', '.');
    repo.commit({ 'index.html': 'rewritten' }, 'new root', 'rewritten');
    repo.git('push', '-q', '--force', 'origin', 'HEAD:refs/heads/main');
    await waitFor('the rewritten history', () => currentTree(target)?.['index.html'] === 'rewritten');
    expect(currentTree(target)).toEqual({ 'index.html': 'rewritten' });
  });

  it('follows a tag (annotated) when it moves', async () => {
    repo.commit({ 'index.html': 'release 1' });
    repo.git('tag', '-a', '-m', 'r1', 'live');
    repo.git('push', '-q', 'origin', 'refs/tags/live');
    repo.commit({ 'index.html': 'work in progress' });
    const t = await start(git({ ref: 'live' }));
    expect(currentTree(target)).toEqual({ 'index.html': 'release 1' });
    const moved = repo.commit({ 'index.html': 'release 2' });
    repo.git('tag', '-f', '-a', '-m', 'r2', 'live');
    repo.git('push', '-q', '--force', 'origin', 'refs/tags/live');
    await waitFor('the moved tag', () => currentTree(target)?.['index.html'] === 'release 2');
    // The commit the tag names, not the tag object.
    expect(t.logs.filter((l) => l.msg === 'published').at(-1)?.commit).toBe(moved);
  });

  it('SYNC_DEPTH=0 (the whole history) publishes the tip, then fetches only what is new', async () => {
    for (let n = 1; n <= 5; n++) repo.commit({ 'index.html': `v${n}`, [`history/${n}.txt`]: `${n}` });
    await start(git({ depth: 0 }));
    const whole = server.requests.filter((r) => r.method === 'POST').map((r) => r.bytes);
    expect(currentTree(target)?.['index.html']).toBe('v5');
    server.requests.length = 0;
    repo.commit({ 'index.html': 'v6' });
    await waitFor('v6', () => currentTree(target)?.['index.html'] === 'v6');
    const after = server.requests.filter((r) => r.method === 'POST').map((r) => r.bytes);
    expect(Math.max(...after)).toBeLessThan(Math.max(...whole));
  });

  it('follows a branch named in SYNC_REF, not HEAD', async () => {
    repo.commit({ 'index.html': 'main' });
    repo.commit({ 'index.html': 'staging' }, 'staging', 'staging');
    await start(git({ ref: 'staging' }));
    expect(currentTree(target)).toEqual({ 'index.html': 'staging' });
    repo.commit({ 'index.html': 'main 2' });
    repo.commit({ 'index.html': 'staging 2' }, 'staging 2', 'staging');
    await waitFor('staging 2', () => currentTree(target)?.['index.html'] === 'staging 2');
  });

  it('a deleted ref keeps the last good snapshot, with a clear error and errors_total{reason="not_found"}', async () => {
    repo.commit({ 'index.html': 'v1' });
    repo.commit({ 'index.html': 'staging' }, 'staging', 'staging');
    const t = await start(git({ ref: 'staging' }));
    const good = currentTree(target);
    repo.git('push', '-q', 'origin', ':refs/heads/staging');
    const line = await waitFor('the error', () => t.logs.find((l) => l.level === 'error'));
    expect(line?.msg).toMatch(
      /keeping the current snapshot: ref "staging" is not on http:\/\/127\.0\.0\.1:\d+\/site\.git/,
    );
    expect(currentTree(target)).toEqual(good);
    expect((await t.syncer.health.ready()).ok).toBe(true);
    expect(await metric(t, 'content_sync_errors_total{reason="not_found"}')).toBeGreaterThanOrEqual(1);
    repo.commit({ 'index.html': 'staging again' }, 'back', 'staging');
    await waitFor('the ref back', () => currentTree(target)?.['index.html'] === 'staging again');
  });

  it('a server that is down keeps the last good snapshot; it is fetched from again when back', async () => {
    repo.commit({ 'index.html': 'v1' });
    const t = await start();
    await server.stop();
    try {
      const line = await waitFor('the error', () => t.logs.find((l) => l.level === 'error'));
      expect(line?.msg).toMatch(
        /keeping the current snapshot: cannot reach http:\/\/127\.0\.0\.1:\d+\/site\.git.*ECONNREFUSED/,
      );
      expect(currentTree(target)).toEqual({ 'index.html': 'v1' });
      expect(await metric(t, 'content_sync_errors_total{reason="unreachable"}')).toBeGreaterThanOrEqual(1);
      repo.commit({ 'index.html': 'v2' });
    } finally {
      await server.restart();
    }
    await waitFor('v2 once the server is back', () => currentTree(target)?.['index.html'] === 'v2');
  });

  it('a server that asks for credentials: a clear error, nothing published, not ready', async () => {
    const locked = await startGitServer({ root, auth: { user: 'deploy', password: 's3cret' } });
    try {
      repo.commit({ 'index.html': 'v1' });
      running = makeSyncer(git({ url: `${locked.base}/site.git` }), { target, interval: 100 });
      await running.syncer.prepare();
      const outcome = await running.syncer.syncNow();
      expect(outcome.result).toBe('error');
      expect(outcome.error).toMatch(/answered 401 Unauthorized: it asks for credentials/);
      expect(snapshotIds(target)).toEqual([]);
      expect((await running.syncer.health.ready()).reason).toMatch(/no snapshot published yet: .*401/);
      expect(await metric(running, 'content_sync_errors_total{reason="auth"}')).toBe(1);
    } finally {
      await locked.stop();
    }
  });

  it('basic auth from files: a wrong password is a clear error and publishes nothing; the right one (rotated in) publishes', async () => {
    const locked = await startGitServer({ root, auth: { user: 'deploy', password: 'right horse' } });
    try {
      const c1 = repo.commit({ 'index.html': 'v1' });
      const passwordFile = join(root, 'password');
      writeFileSync(passwordFile, 'battery staple\n');
      running = makeSyncer(
        git({ url: `${locked.base}/site.git` }),
        { target, interval: 100 },
        { credentials: new Credentials({ username: 'deploy', passwordFile }) },
      );
      await running.syncer.prepare();
      const refused = await running.syncer.syncNow();
      expect(refused.error).toMatch(
        /answered 401 Unauthorized: the credentials were refused \(--username \/ SYNC_USERNAME and --password-file \/ SYNC_PASSWORD_FILE\)/,
      );
      expect(snapshotIds(target)).toEqual([]);
      expect(await metric(running, 'content_sync_errors_total{reason="auth"}')).toBe(1);
      expect(JSON.stringify(running.logs)).not.toMatch(/battery/);
      writeFileSync(passwordFile, 'right horse\n'); // the Secret updated: read at the next sync
      expect(await running.syncer.syncNow()).toMatchObject({ result: 'published', commit: c1 });
      expect(currentTree(target)).toEqual({ 'index.html': 'v1' });
    } finally {
      await locked.stop();
    }
  });

  it('https with a private CA: refused without SYNC_CA_FILE, fetched with it', async () => {
    const tls = join(import.meta.dirname, '../testdata/tls');
    const secure = await startGitServer({
      root,
      tls: {
        cert: readFileSync(join(tls, 'server.pem'), 'utf8'),
        key: readFileSync(join(tls, 'server.key'), 'utf8'),
      },
    });
    try {
      repo.commit({ 'index.html': 'over tls' });
      const source = git({ url: `${secure.base}/site.git` });
      running = makeSyncer(source, { target, interval: 100 });
      await running.syncer.prepare();
      expect((await running.syncer.syncNow()).error).toMatch(
        /its TLS certificate is not trusted: .*SYNC_CA_FILE/,
      );
      await running.stop();
      running = makeSyncer(
        source,
        { target, interval: 100 },
        { credentials: new Credentials({ caFile: join(tls, 'ca.pem') }) },
      );
      await running.syncer.prepare();
      expect((await running.syncer.syncNow()).result).toBe('published');
      expect(currentTree(target)).toEqual({ 'index.html': 'over tls' });
    } finally {
      await secure.stop();
    }
  });

  it('publishes only SYNC_GIT_ROOT; a commit without that folder is an error', async () => {
    repo.commit({ 'README.md': 'docs', 'public/index.html': 'site', 'public/css/a.css': 'a{}' });
    const t = await start(git({ root: 'public' }));
    expect(currentTree(target)).toEqual({ 'index.html': 'site', 'css/a.css': 'a{}' });
    repo.commit({ 'public/index.html': null, 'public/css/a.css': null });
    const line = await waitFor('the error', () => t.logs.find((l) => l.level === 'error'));
    expect(line?.msg).toMatch(/--git-root \/ SYNC_GIT_ROOT "public" is not a folder in commit [0-9a-f]{40}/);
    expect(currentTree(target)).toEqual({ 'index.html': 'site', 'css/a.css': 'a{}' });
  });

  it('a full commit id as the ref: published, and never polled again', async () => {
    const pinned = repo.commit({ 'index.html': 'pinned' });
    repo.commit({ 'index.html': 'later' });
    const t = await start(git({ ref: pinned }));
    expect(currentTree(target)).toEqual({ 'index.html': 'pinned' });
    server.requests.length = 0;
    repo.commit({ 'index.html': 'even later' });
    await waitFor(
      'two polls',
      async () => (await metric(t, 'content_sync_runs_total{result="unchanged"}')) >= 2,
    );
    expect(server.requests).toEqual([]); // a commit id never moves
    expect(currentTree(target)).toEqual({ 'index.html': 'pinned' });
  });

  it('a commit no ref reaches: fetched when the server allows it, else a clear refusal', async () => {
    repo.commit({ 'index.html': 'main' });
    const lost = repo.commit({ 'index.html': 'lost' }, 'lost', 'gone');
    repo.git('push', '-q', 'origin', ':refs/heads/gone');
    running = makeSyncer(git({ ref: lost }), { target, interval: 100 });
    await running.syncer.prepare();
    const refused = await running.syncer.syncNow();
    expect(refused.error).toMatch(
      new RegExp(`did not send commit ${lost}: .*uploadpack\\.allowAnySHA1InWant.*SYNC_REF`),
    );
    expect(await metric(running, 'content_sync_errors_total{reason="refused"}')).toBe(1);
    runGit(repo.bare, ['config', 'uploadpack.allowAnySHA1InWant', 'true']);
    const ok = await running.syncer.syncNow();
    expect(ok).toMatchObject({ result: 'published', commit: lost });
    expect(currentTree(target)).toEqual({ 'index.html': 'lost' });
  });

  it('modes, dotfiles, symlinks and submodules: published as a checkout would be, or left out with a warning', async () => {
    repo.commit({ 'bin/run.sh': '#!/bin/sh', 'index.html': 'home', '.env': 'secret', 'docs/a.md': 'a' });
    repo.git('update-index', '--chmod=+x', 'bin/run.sh');
    repo.git('commit', '-qm', 'x');
    const links: Array<[string, string]> = [
      ['home.html', 'index.html'],
      ['docs/up.html', '../index.html'],
      ['out.txt', '../../etc/passwd'],
      ['abs.txt', '/etc/passwd'],
      ['dangling.txt', 'nothing-here'],
      ['docs-link', 'docs'],
    ];
    for (const [link, to] of links)
      repo.git('update-index', '--add', '--cacheinfo', `120000,${hashLink(to)},${link}`);
    const sub = repo.git('rev-parse', 'HEAD');
    repo.git('update-index', '--add', '--cacheinfo', `160000,${sub},vendor/theme`);
    repo.git('commit', '-qm', 'links');
    repo.git('push', '-q', 'origin', 'HEAD:refs/heads/main');
    const t = await start();
    const live = realpathSync(join(target, 'current'));
    // vendor holds only the submodule: an empty folder, as in a checkout without submodules.
    expect(readdirSync(live).sort()).toEqual(['bin', 'docs', 'home.html', 'index.html', 'vendor']);
    expect(readdirSync(join(live, 'vendor'))).toEqual([]);
    expect(readFileSync(join(live, 'home.html'), 'utf8')).toBe('home');
    expect(readFileSync(join(live, 'docs/up.html'), 'utf8')).toBe('home');
    expect(statSync(join(live, 'bin/run.sh')).mode & 0o111).not.toBe(0);
    expect(statSync(join(live, 'index.html')).mode & 0o111).toBe(0);
    const warning = t.logs.find((l) => l.level === 'warn' && /left out/.test(l.msg));
    expect(warning?.refused).toEqual(
      expect.arrayContaining([
        'out.txt (points outside the published tree)',
        'abs.txt (points outside the published tree)',
        'dangling.txt (dangling)',
        'docs-link (a symlink to a folder: not supported)',
        'vendor/theme (a submodule: not fetched)',
      ]),
    );
  });
});

describe('the process (dist/main.js)', () => {
  it('SYNC_ONCE with credentials from files: a wrong password exits 1 and publishes nothing; the right one exits 0', async () => {
    const locked = await startGitServer({ root, auth: { user: 'deploy', password: 'right-horse' } });
    try {
      const c1 = repo.commit({ 'index.html': 'once' });
      const passwordFile = join(root, 'once-password');
      writeFileSync(passwordFile, 'battery-staple-9\n');
      const env = {
        SYNC_SOURCE: `git+${locked.base}/site.git`,
        SYNC_TARGET: target,
        SYNC_ONCE: 'true',
        SYNC_USERNAME: 'deploy',
        SYNC_PASSWORD_FILE: passwordFile,
      };
      const refused = runMain(env);
      expect(await refused.exited).toBe(1);
      expect(refused.lines.find((l) => l.level === 'fatal')?.msg).toMatch(
        /sync failed: .*answered 401 Unauthorized: the credentials were refused/,
      );
      expect(refused.stderr() + JSON.stringify(refused.lines)).not.toMatch(/battery/);
      expect(snapshotIds(target)).toEqual([]);
      writeFileSync(passwordFile, 'right-horse\n');
      const ok = runMain(env);
      expect(await ok.exited).toBe(0);
      expect(currentTree(target)).toEqual({ 'index.html': 'once' });
      expect(ok.lines.find((l) => l.msg === 'synced once; exiting')).toMatchObject({ commit: c1 });
    } finally {
      await locked.stop();
    }
  });
});

describe('a 10,000-file repository', () => {
  it('is cloned and published whole; a one-file commit then writes one file and links the rest', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 10_000; i++) files[`d${Math.floor(i / 100)}/f${i % 100}.txt`] = `file ${i}\n`;
    repo.commit(files, 'big');
    const t = await start(git(), { interval: 200 });
    expect(t.syncer.current, JSON.stringify(t.logs.filter((l) => l.level === 'error'))).toBeDefined();
    const first = realpathSync(join(target, 'current'));
    expect(readdirSync(first)).toHaveLength(100);
    expect(readFileSync(join(first, 'd99/f99.txt'), 'utf8')).toBe('file 9999\n');
    expect(t.logs.find((l) => l.msg === 'published')).toMatchObject({ files: 10_000, copied: 10_000 });
    const c2 = repo.commit({ 'd42/f7.txt': 'changed' });
    await waitFor(
      'the change',
      () => t.logs.filter((l) => l.msg === 'published').at(-1)?.commit === c2,
      30_000,
    );
    const line = t.logs.filter((l) => l.msg === 'published').at(-1)!;
    expect(line.copied).toBe(1);
    expect(Number(line.linked) + Number(line.kept ?? 0)).toBe(9_999);
    const second = realpathSync(join(target, 'current'));
    expect(readFileSync(join(second, 'd42/f7.txt'), 'utf8')).toBe('changed');
    expect(statSync(join(second, 'd0/f0.txt')).ino).toBe(statSync(join(first, 'd0/f0.txt')).ino);
  }, 120_000);
});

/** Writes a symlink's target as a blob of the repository, as git stores it. */
function hashLink(to: string): string {
  const tmp = join(repo.work, '.link-target');
  writeFileSync(tmp, to);
  const oid = runGit(repo.work, ['hash-object', '-w', tmp]);
  rmSync(tmp);
  return oid;
}
