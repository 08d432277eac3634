// The runner as a user starts it (`node demo/main.ts`), with the real components' dist/main.js:
// a busy port, then the full pod — site, an edit, metrics, a crash, a stopped backend, Ctrl-C.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPortFree } from './src/ports.ts';
import type { PodState } from './src/probe.ts';
import { REPO_ROOT } from './src/run.ts';
import { freePortBase, isAlive, waitFor } from './src/testing.ts';

const MAIN = join(REPO_ROOT, 'demo', 'main.ts');

function runDemo(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

describe('a busy port', () => {
  let holder: Server;
  let base: number;
  beforeAll(async () => {
    base = await freePortBase();
    holder = createServer();
    await new Promise<void>((ok) => holder.listen(base + 4, '127.0.0.1', ok));
  });
  afterAll(() => new Promise<void>((ok) => holder.close(() => ok())));

  it('stops before starting anything, naming the port and the flag that moves it', async () => {
    const demo = runDemo(['--port-base', String(base)]);
    expect(await demo.exited).toBe(1);
    expect(demo.output()).toContain(`port ${base + 4} (log-adapter metrics) is already in use`);
    expect(demo.output()).toContain('--port-base');
    expect(demo.output()).not.toContain('listening');
  });

  it('rejects an unknown pattern with exit code 2 and the usage', async () => {
    const demo = runDemo(['mesh']);
    expect(await demo.exited).toBe(2);
    expect(demo.output()).toMatch(/unknown pattern "mesh"[\s\S]*usage: node demo\/main\.ts/);
  });
});

const built = ['web', 'content-sync', 'ambassador', 'log-adapter'].every((n) =>
  existsSync(join(REPO_ROOT, 'packages', n, 'dist', 'main.js')),
);

describe('the full pod', () => {
  let base: number;
  let source: string;
  let demo: ReturnType<typeof runDemo>;
  let child: ChildProcess;
  const api = (path: string) => `http://127.0.0.1:${base + 5}${path}`;
  const site = (path = '/') => `http://127.0.0.1:${base}${path}`;
  const state = async () => (await (await fetch(api('/api/state'))).json()) as PodState;
  const post = (path: string) => fetch(api(path), { method: 'POST', headers: { 'x-pod-view': '1' } });

  beforeAll(async () => {
    if (!built) throw new Error('build the components first: pnpm build (pnpm test does)');
    base = await freePortBase();
    // A copy of the sample site, so the test's edits never touch examples/site.
    source = await mkdtemp(join(tmpdir(), 'demo-test-source-'));
    await cp(join(REPO_ROOT, 'examples', 'site'), source, { recursive: true });
    demo = runDemo(['full', '--port-base', String(base), '--source', source]);
    child = demo.child;
    await waitFor(
      'all four containers ready',
      async () => (await state()).containers.every((c) => c.ready),
      45_000,
    );
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await demo.exited;
    }
    await rm(source, { recursive: true, force: true });
  });

  it('serves the site through the ambassador and prints where to look', async () => {
    const res = await fetch(site());
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<h1 id="headline">Hello from the main container</h1>');
    await waitFor('the banner', () => demo.output().includes('pod view'));
    expect(demo.output()).toContain(`site        http://127.0.0.1:${base}/   (through the ambassador)`);
    expect(demo.output()).toContain(`http://127.0.0.1:${base + 4}/metrics`);
    // Each child's lines carry its container name.
    expect(demo.output()).toMatch(/^content-sync \| info/m);
    expect(demo.output()).toMatch(/^log-adapter {2}\| info/m);
  });

  // "Within a second" is asserted in demo.system.test.ts, which runs alone; here other suites
  // share the two cores, so the bound is looser.
  it('publishes an edit of the source within moments', async () => {
    const before = (await state()).sync?.snapshot;
    const t0 = Date.now();
    const index = join(source, 'index.html');
    const html = (await (await fetch(site())).text()).replace(
      'Hello from the main container',
      'Edited by a test',
    );
    await writeFile(index, html);
    await waitFor('the edit through the ambassador', async () =>
      (await (await fetch(site())).text()).includes('Edited by a test'),
    );
    expect(Date.now() - t0).toBeLessThan(5000);
    const after = await state();
    expect(after.sync?.snapshot).not.toBe(before);
    expect(after.sync?.headline).toBe('Edited by a test');
  });

  it('counts requests in the adapter’s metrics, by code', async () => {
    const before = (await state()).adapter?.byCode['404'] ?? 0;
    const res = await post('/api/traffic?count=20');
    expect(await res.json()).toMatchObject({ sent: 20, byStatus: { '200': 15, '404': 5 } });
    await waitFor(
      '5 more 404s counted',
      async () => ((await state()).adapter?.byCode['404'] ?? 0) >= before + 5,
    );
    const s = await state();
    expect(s.adapter?.latency.p50).toBeGreaterThan(0);
    expect(s.ambassador?.upstreams).toEqual([{ name: `http://127.0.0.1:${base + 1}`, up: true }]);
  });

  it('the edit button writes one marked file that the site then serves', async () => {
    const res = await post('/api/edit');
    const body = (await res.json()) as { file: string; path: string };
    expect(body.file).toBe(join(source, 'pod-view-edit.html'));
    await waitFor('the edit page', async () => (await fetch(site(body.path))).status === 200);
    expect(await (await fetch(site(body.path))).text()).toContain('Written by the multipod demo');
  });

  it('refuses a POST without the pod view header, a GET of an action, and unknown paths', async () => {
    expect((await fetch(api('/api/edit'), { method: 'POST' })).status).toBe(403);
    expect((await fetch(api('/api/edit'))).status).toBe(405);
    expect((await post('/api/containers/nginx/stop')).status).toBe(404);
    expect((await post('/api/traffic?count=0')).status).toBe(400);
    expect((await fetch(api('/etc/passwd'))).status).toBe(404);
  });

  it('keeps each container’s last output lines apart, for the logs panel', async () => {
    const res = await fetch(api('/api/logs/web?tail=50'));
    const body = (await res.json()) as { container: string; lines: string[] };
    expect(body.container).toBe('web');
    expect(body.lines.some((l) => l.includes('"msg":"listening"'))).toBe(true);
    expect(body.lines.every((l) => !l.includes('"component":"content-sync"'))).toBe(true);
    expect((await fetch(api('/api/logs/nginx'))).status).toBe(404);
  });

  it('serves the page, its stylesheet and its script', async () => {
    const page = await fetch(api('/'));
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toContain('src="/pod-view.js"');
    for (const c of ['content-sync', 'web', 'ambassador', 'log-adapter'])
      expect(html).toContain(`data-container="${c}"`);
    expect((await fetch(api('/pod-view.js'))).headers.get('content-type')).toBe(
      'text/javascript; charset=utf-8',
    );
    expect((await fetch(api('/pod-view.css'))).status).toBe(200);
  });

  it('restarts a crashed container, as the kubelet does', async () => {
    const before = (await state()).containers.find((c) => c.name === 'content-sync')!;
    await post('/api/containers/content-sync/kill');
    const after = await waitFor('content-sync back and ready', async () => {
      const c = (await state()).containers.find((x) => x.name === 'content-sync')!;
      return c.ready && c.pid !== before.pid && c;
    });
    expect(after.restarts).toBe(before.restarts + 1);
    expect(isAlive(before.pid!)).toBe(false);
  });

  it('a stopped backend gets a clear 5xx from the ambassador, never a hang; start brings it back', async () => {
    await post('/api/containers/web/stop');
    const res = await fetch(site(), { signal: AbortSignal.timeout(5000) });
    expect([502, 503, 504]).toContain(res.status);
    const web = (await state()).containers.find((c) => c.name === 'web')!;
    expect(web).toMatchObject({ state: 'stopped', ready: false });
    await post('/api/containers/web/start');
    await waitFor('web serving again', async () => (await fetch(site())).status === 200);
  });

  it('Ctrl-C stops every container, frees every port and removes the volumes', async () => {
    const s = await state();
    const pids = s.containers.map((c) => c.pid!);
    const volumes = s.volumes.map((v) => v.path);
    expect(pids.every(isAlive)).toBe(true);
    child.kill('SIGINT');
    expect(await demo.exited).toBe(0);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(volumes.filter((v) => existsSync(v))).toEqual([]);
    expect(existsSync(join(source, 'pod-view-edit.html'))).toBe(false);
    for (let p = base; p < base + 6; p++) expect(await isPortFree(p)).toBe(true);
    expect(demo.output()).toContain('all stopped; removed');
    // Cleanly: each one finished its SIGTERM shutdown and exited 0.
    for (const name of ['content-sync', 'web', 'ambassador', 'log-adapter'])
      expect(demo.output()).toContain(`${name} stopped (exit code 0)`);
  });
});

describe.each([
  ['sidecar', ['content-sync', 'web'], 1],
  ['ambassador', ['web', 'ambassador'], 0],
  ['adapter', ['web', 'log-adapter'], 1],
] as const)('one pattern alone: %s', (pattern, containers, sitePort) => {
  let base: number;
  let demo: ReturnType<typeof runDemo>;
  const state = async () =>
    (await (await fetch(`http://127.0.0.1:${base + 5}/api/state`)).json()) as PodState;

  beforeAll(async () => {
    if (!built) throw new Error('build the components first: pnpm build (pnpm test does)');
    base = await freePortBase();
    demo = runDemo([pattern, '--port-base', String(base)]);
    await waitFor(`${pattern} ready`, async () => (await state()).containers.every((c) => c.ready), 45_000);
  });
  afterAll(async () => {
    if (demo?.child.exitCode === null) {
      demo.child.kill('SIGKILL');
      await demo.exited;
    }
  });

  it('runs just its containers and serves the sample site', async () => {
    const s = await state();
    expect(s.containers.map((c) => c.name)).toEqual(containers);
    expect(s.siteUrl).toBe(`http://127.0.0.1:${base + sitePort}/`);
    const res = await fetch(s.siteUrl);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Hello from the main container');
    if (pattern === 'adapter')
      await waitFor('the request counted', async () => ((await state()).adapter?.byCode['200'] ?? 0) >= 1);
    if (pattern === 'ambassador') expect((await state()).ambassador?.upstreams[0]?.up).toBe(true);
    if (pattern === 'sidecar') expect((await state()).sync?.snapshot).toMatch(/\S/);
  });

  it('stops on SIGTERM with exit code 0', async () => {
    demo.child.kill('SIGTERM');
    expect(await demo.exited).toBe(0);
    for (const name of containers) expect(demo.output()).toContain(`${name} stopped (exit code 0)`);
  });
});

describe('started through a wrapper that dies without passing the signal on (pnpm, npx)', () => {
  let base: number;
  let wrapper: ChildProcess;
  const state = async () =>
    (await (await fetch(`http://127.0.0.1:${base + 5}/api/state`)).json()) as PodState;

  beforeAll(async () => {
    if (!built) throw new Error('build the components first: pnpm build (pnpm test does)');
    base = await freePortBase();
    // `; true` keeps sh waiting as the parent, as pnpm's script shell does.
    wrapper = spawn('sh', ['-c', `"${process.execPath}" "${MAIN}" adapter --port-base ${base}; true`], {
      cwd: REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: 'ignore',
    });
    await waitFor('adapter ready', async () => (await state()).containers.every((c) => c.ready), 45_000);
  });
  afterAll(() => {
    if (wrapper?.exitCode === null) wrapper.kill('SIGKILL');
  });

  it('the orphaned runner notices and stops every container, leaving no port taken', async () => {
    const s = await state();
    const pids = [s.runnerPid, ...s.containers.map((c) => c.pid!)];
    wrapper.kill('SIGTERM');
    await waitFor('every pid gone', () => pids.every((p) => !isAlive(p)), 20_000);
    for (let p = base; p < base + 6; p++) expect(await isPortFree(p)).toBe(true);
  });
});
