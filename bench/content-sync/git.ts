// The git rows of `pnpm bench content-sync`: content-sync on a git source against the sidecar
// people write by hand, git-sync's method in shell (git-sidecar.sh: a shallow `git fetch` every
// period, a fresh `git worktree` per new commit, a symlink swap), on the same repository, served
// by the same local smart-HTTP server (Debian's git http-backend, packages/content-sync's test
// server) and read through multipod-web. Both poll every PERIOD. Measures push → served (from
// the end of `git push` until web returns the new bytes), the sidecar's CPU over the pushes, the
// first clone's time and peak RSS, and idle CPU (what polling costs).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRepo, startGitServer } from '../../packages/content-sync/src/testing-git.ts';
import type { MemoryLimit } from './memory-limit.ts';
import { childrenCpu, commandOf, cpuSeconds, startSampled, startWeb } from './procs.ts';

export interface GitRow {
  contender: string;
  limit: string;
  files: number;
  firstCloneMs: number;
  firstClonePeakMiB: number;
  p50Ms: number;
  p99Ms: number;
  pushes: number;
  /** Sidecar CPU over the push phase, per push (polling included). */
  cpuMsPerPush: number;
  idleCpuPct: number;
  peakRssMiB: number;
}

export interface GitBenchOptions {
  sync: string;
  web: string;
  shell: string;
  files: number;
  pushes: number;
  /** Poll period of both sidecars, e.g. 200ms. */
  period: string;
  /** A fresh memory limit for one run (or why there is none), and its label. */
  limit: () => MemoryLimit | string;
  limitLabel: string;
  body: (text: string) => string;
  until: <T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms: number) => Promise<T>;
  get: (url: string) => Promise<string | undefined>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
};
const seconds = (d: string) => {
  const m = /^(\d+)(ms|s)$/.exec(d);
  if (!m) throw new Error(`period ${d}: write it like 200ms or 1s`);
  return Number(m[1]) / (m[2] === 'ms' ? 1000 : 1);
};

export async function gitBench(o: GitBenchOptions): Promise<GitRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-content-sync-git-'));
  const repo = createRepo(dir);
  for (let i = 0; i < o.files; i++) {
    const d = join(repo.work, `d${Math.floor(i / 100)}`);
    if (i % 100 === 0) mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `f${i % 100}.txt`), o.body(`file ${i} v0`));
  }
  repo.commit({}, 'the site');
  const server = await startGitServer({ root: dir });
  const url = `${server.base}/site.git`;
  const rows: GitRow[] = [];
  try {
    for (const contender of ['content-sync', 'shell'] as const) {
      const limit = o.limit();
      const cg = typeof limit === 'string' ? undefined : limit;
      console.log(`… git, ${o.files} files: ${contender}, memory limit ${cg ? o.limitLabel : 'none'}`);
      try {
        rows.push(await measure(o, contender, url, repo, join(dir, `www-${contender}`), cg));
      } finally {
        await cg?.remove();
      }
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

async function measure(
  o: GitBenchOptions,
  contender: 'content-sync' | 'shell',
  url: string,
  repo: ReturnType<typeof createRepo>,
  target: string,
  limit: MemoryLimit | undefined,
): Promise<GitRow> {
  const { proc: web, base } = await startWeb(o.web, join(target, 'current'));
  const [cmd, args]: [string, string[]] =
    contender === 'content-sync'
      ? [process.execPath, [o.sync]]
      : ['bash', [o.shell, url, target, String(seconds(o.period))]];
  const env: Record<string, string> =
    contender === 'content-sync'
      ? {
          SYNC_SOURCE: `git+${url}`,
          SYNC_TARGET: target,
          SYNC_INTERVAL: o.period,
          SYNC_PRUNE_GRACE: '200ms',
          SYNC_ADMIN_PORT: '0',
          SYNC_ADMIN_HOST: '127.0.0.1',
          SYNC_LOG_LEVEL: 'warn',
        }
      : { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
  const t0 = performance.now();
  const { proc, pids, peakKiB, stopSampling } = startSampled(cmd, args, env, limit, 20);
  const last = o.files - 1;
  const lastPath = `d${Math.floor(last / 100)}/f${last % 100}.txt`;
  await o.until(
    'first clone',
    async () => ((await o.get(`${base}/${lastPath}`)) === o.body(`file ${last} v0`) ? true : undefined),
    300_000,
  );
  const firstCloneMs = performance.now() - t0;
  const firstClonePeakMiB = peakKiB() / 1024;
  await sleep(1000);

  const lat: number[] = [];
  // The shell's git children come and go: what they used is in the shell's children's total.
  const cpuNow = () => pids().reduce((n, p) => n + cpuSeconds(p), 0) + childrenCpu(proc.child.pid!);
  const cpu0 = cpuNow();
  for (let k = 0; k < o.pushes; k++) {
    const i = (k * 7919) % o.files;
    const rel = `d${Math.floor(i / 100)}/f${i % 100}.txt`;
    const text = o.body(`file ${i} push ${k} ${contender}`);
    repo.commit({ [rel]: text }, `push ${k}`);
    const t = performance.now();
    await o.until(
      `push ${k}`,
      async () => ((await o.get(`${base}/${rel}`)) === text ? true : undefined),
      60_000,
    );
    lat.push(performance.now() - t);
    await sleep(150 + ((k * 37) % 200)); // pushes land at every phase of the poll period
  }
  const cpuPush = cpuNow() - cpu0;

  await sleep(1000);
  const idle0 = cpuNow();
  await sleep(3000);
  const idle1 = cpuNow();
  stopSampling();
  const names = [...new Set(pids().map(commandOf))].join('+');
  await proc.stop();
  await web.stop();
  return {
    contender:
      contender === 'content-sync' ? 'content-sync (git source)' : `shell (${names}: git fetch + worktree)`,
    limit: limit ? o.limitLabel : 'none',
    files: o.files,
    firstCloneMs,
    firstClonePeakMiB,
    p50Ms: pct(lat, 50),
    p99Ms: pct(lat, 99),
    pushes: o.pushes,
    cpuMsPerPush: (cpuPush / o.pushes) * 1000,
    idleCpuPct: ((idle1 - idle0) / 3) * 100,
    peakRssMiB: peakKiB() / 1024,
  };
}
