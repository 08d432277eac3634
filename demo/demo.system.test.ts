// The one-command demo as a new user meets it: a fresh copy of the repository (what git would
// clone: tracked and new files, nothing ignored — no node_modules, no dist), the README's exact
// install line and run line in it, then the site, an edit, the metrics and the pod view; SIGTERM to
// the process the README's run line started (as a script or `kill` would send it), which must stop
// everything and exit 0; nothing may be left running.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMetrics, sum } from './src/metrics.ts';
import { isPortFree } from './src/ports.ts';
import type { PodState } from './src/probe.ts';
import { REPO_ROOT } from './src/run.ts';
import { freePortBase, isAlive, waitFor } from './src/testing.ts';

const execFileAsync = promisify(execFile);

/** The README's install and run lines, read from the README itself so the two cannot drift apart. */
function readmeCommands(): { install: string; run: string[] } {
  const lines = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8').split('\n');
  const at = lines.findIndex((l) => /^npx -y pnpm@[\d.]+ install && npx -y pnpm@[\d.]+ build\s*$/.test(l));
  const run = lines[at + 1]?.trim() ?? '';
  if (at < 0 || !/^node demo\/main\.ts$/.test(run))
    throw new Error(
      'README.md has no lines "npx -y pnpm@<v> install && npx -y pnpm@<v> build" then "node demo/main.ts"',
    );
  return { install: lines[at]!.trim(), run: run.split(' ') };
}

/** Copies what a fresh clone would hold: tracked plus untracked-but-not-ignored files. */
async function freshCopy(to: string): Promise<void> {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
    maxBuffer: 64 * 1024 * 1024,
  })
    .toString()
    .split('\0')
    .filter((f) => f && existsSync(join(REPO_ROOT, f)));
  for (const f of files) {
    await mkdir(dirname(join(to, f)), { recursive: true });
    await copyFile(join(REPO_ROOT, f), join(to, f));
  }
}

/** Pids of processes whose working directory or command line is inside dir. */
function processesIn(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cwd.startsWith(dir) || cmd.includes(dir)) found.push(`${pid}: ${cmd.trim()}`);
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

describe('the README’s demo from a fresh copy of the repository', () => {
  let repo: string;
  let base: number;
  let shell: ChildProcess;
  let out = '';
  let exited: Promise<number | null>;
  const api = (path: string) => `http://127.0.0.1:${base + 5}${path}`;
  const site = (path = '/') => `http://127.0.0.1:${base}${path}`;
  const state = async () => (await (await fetch(api('/api/state'))).json()) as PodState;

  beforeAll(async () => {
    repo = await mkdtemp(join(tmpdir(), 'multipod-fresh-'));
    await freshCopy(repo);
    expect(existsSync(join(repo, 'node_modules'))).toBe(false);
    base = await freePortBase();
    const { install, run } = readmeCommands();
    // Install and build of the whole workspace on a shared 2-core machine: be patient.
    const installed = await execFileAsync('sh', ['-c', install], {
      cwd: repo,
      env: { ...process.env, NO_COLOR: '1' },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      timeout: 400_000,
    });
    out += installed.stdout + installed.stderr;
    const [cmd, ...args] = run as [string, ...string[]];
    shell = spawn(cmd, args, {
      cwd: repo,
      // Its own process group, as a terminal or a script's `&` gives it.
      detached: true,
      env: { ...process.env, DEMO_PORT_BASE: String(base), NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    shell.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    shell.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    exited = new Promise((resolve) => shell.once('exit', (code) => resolve(code)));
    await waitFor(
      'the demo ready',
      async () => {
        if (shell.exitCode !== null) throw new Error(`the command exited early:\n${out.slice(-3000)}`);
        return (await state()).containers.every((c) => c.ready);
      },
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n--- output ---\n${out.slice(-4000)}`);
    });
  }, 480_000);

  afterAll(async () => {
    if (shell?.pid && shell.exitCode === null) {
      try {
        process.kill(-shell.pid, 'SIGKILL');
      } catch {}
    }
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  it('prints where to look', async () => {
    await waitFor('the banner', () => out.includes('pod view'));
    expect(out).toContain(`site        http://127.0.0.1:${base}/   (through the ambassador)`);
    expect(out).toContain(`pod view    http://127.0.0.1:${base + 5}/`);
    expect(out).toContain(`http://127.0.0.1:${base + 4}/metrics`);
  });

  it('serves examples/site through the ambassador', async () => {
    const res = await fetch(site());
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<h1 id="headline">Hello from the main container</h1>');
  });

  it('an edit of examples/site reaches the page within a second', async () => {
    const index = join(repo, 'examples', 'site', 'index.html');
    const html = await readFile(index, 'utf8');
    const t0 = Date.now();
    await writeFile(index, html.replace('Hello from the main container', 'Hello from a fresh clone'));
    await waitFor('the edit', async () =>
      (await (await fetch(site())).text()).includes('Hello from a fresh clone'),
    );
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('the adapter’s metrics count the requests', async () => {
    const scrape = async () =>
      parseMetrics(await (await fetch(`http://127.0.0.1:${base + 4}/metrics`)).text());
    const before = sum(await scrape(), 'http_requests_total', { code: '404' }) ?? 0;
    for (let i = 0; i < 3; i++) expect((await fetch(site('/missing'))).status).toBe(404);
    await waitFor(
      '3 more 404s',
      async () => (sum(await scrape(), 'http_requests_total', { code: '404' }) ?? 0) >= before + 3,
    );
  });

  it('the pod view serves its page and its API', async () => {
    const page = await fetch(api('/'));
    expect(await page.text()).toContain('<title>multipod — pod view</title>');
    const s = await state();
    expect(s.containers.map((c) => [c.name, c.ready])).toEqual([
      ['content-sync', true],
      ['web', true],
      ['ambassador', true],
      ['log-adapter', true],
    ]);
    expect(s.sync?.headline).toBe('Hello from a fresh clone');
    expect(s.adapter?.requests).toBeGreaterThan(0);
  });

  it('SIGTERM to the process started stops it all, exit 0: no process, no port, no volume left', async () => {
    const s = await state();
    const pids = [s.runnerPid, ...s.containers.map((c) => c.pid!)];
    const volumes = s.volumes.map((v) => v.path);
    process.kill(shell.pid!, 'SIGTERM');
    expect(await exited).toBe(0);
    expect(out).not.toContain('ELIFECYCLE');
    await waitFor('every pid gone', () => pids.every((p) => !isAlive(p)), 20_000);
    expect(processesIn(repo)).toEqual([]);
    expect(volumes.filter((v) => existsSync(v))).toEqual([]);
    for (let p = base; p < base + 6; p++) expect(await isPortFree(p)).toBe(true);
    expect(out).toContain('all stopped; removed');
  });
});
