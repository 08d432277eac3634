// `pnpm bench content-sync`: content-sync against the shell sidecar people write by hand
// (inotifywait -m -r + rsync -a --delete --checksum into the served directory), side by side on the
// same trees, both served by multipod-web. Measures: write → new bytes served by web (p50/p99),
// time to first publish, RSS (idle and peak), inotify watches, idle CPU, and how often a reader
// that resolves the served root once sees a half-updated tree. Both sidecars run under the memory
// limit the sidecar manifest gives content-sync (a memory cgroup, as in the pod); content-sync runs
// once more without one. Sizes: BENCH_SIZES (default 1000,10000; add 100000 for the big tree).
// Writes bench/results/content-sync.md and .json.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gitBench } from './git.ts';
import { type MemoryLimit, manifestMemoryLimit, memoryCgroup, parseQuantity } from './memory-limit.ts';
import { commandOf, cpuSeconds, inotifyWatches, rssKiB, startSampled, startWeb } from './procs.ts';

// The machine as the figures were taken: cores, and the 1-minute load average before the bench began.
const startLoad = loadavg()[0]!;
const machineLoad = (): string =>
  `${availableParallelism()} cores, load average ${startLoad.toFixed(1)} at the start`;

const repo = join(import.meta.dirname, '../..');
const SYNC = join(repo, 'packages/content-sync/dist/main.js');
const WEB = join(repo, 'packages/web/dist/main.js');
const SHELL = join(import.meta.dirname, 'shell-sidecar.sh');
const sizes = (process.env.BENCH_SIZES ?? '1000,10000').split(',').filter(Boolean).map(Number);
/** Files of the git rows' repository (0: no git rows); push → served over BENCH_GIT_PUSHES pushes. */
const GIT_FILES = Number(process.env.BENCH_GIT_FILES ?? 10_000);
const GIT_PUSHES = Number(process.env.BENCH_GIT_PUSHES ?? 20);
const GIT_PERIOD = process.env.BENCH_GIT_PERIOD ?? '200ms';
const GIT_SHELL = join(import.meta.dirname, 'git-sidecar.sh');
const FILE_BYTES = 512;
const GROUP = 100; // files updated together for the half-updated-tree check
const GRACE = process.env.BENCH_GRACE ?? '200ms';
const GAP_MS = 250; // between edits: longer than the grace, as edits minutes apart would be
const MANIFEST = join(repo, 'manifests/sidecar/sidecar.yaml');
const LIMIT = manifestMemoryLimit(MANIFEST, 'content-sync');

for (const [tool, args] of [
  ['inotifywait', ['--help']],
  ['rsync', ['--version']],
  ['git', ['--version']],
] as const) {
  if (spawnSync(tool, args).error) {
    console.error(
      `bench content-sync needs ${tool}: run scripts/install-system-deps.sh (Debian: inotify-tools, rsync, git)`,
    );
    process.exit(1);
  }
}
for (const f of [SYNC, WEB])
  if (!existsSync(f)) {
    console.error(`missing ${f}: run pnpm build (pnpm bench builds first)`);
    process.exit(1);
  }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const body = (text: string) => text.padEnd(FILE_BYTES - 1, '.') + '\n';
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
};

function makeTree(src: string, files: number): void {
  for (let i = 0; i < files; i++) {
    const d = join(src, `d${Math.floor(i / 100)}`);
    if (i % 100 === 0) mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `f${i % 100}.txt`), body(`file ${i} v0`));
  }
  mkdirSync(join(src, 'group'));
  for (let g = 0; g < GROUP; g++) writeFileSync(join(src, 'group', `g${g}.txt`), `v0 `.repeat(1000));
}

async function get(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url);
    const text = await res.text();
    return res.status === 200 ? text : undefined;
  } catch {
    return undefined;
  }
}

async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms: number,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}

interface Result {
  contender: string;
  /** The memory limit it ran under ("none" without one). */
  limit: string;
  files: number;
  firstPublishMs: number;
  p50Ms: number;
  p99Ms: number;
  edits: number;
  rssMiB: number;
  peakRssMiB: number;
  watches: number;
  idleCpuPct: number;
  mixedReads: number;
  treeReads: number;
}

async function measure(
  contender: 'content-sync' | 'shell',
  files: number,
  dir: string,
  limit: MemoryLimit | undefined,
): Promise<Result> {
  const src = join(dir, 'src');
  const target = join(dir, contender === 'content-sync' ? 'www-cs' : 'www-shell');
  const served = contender === 'content-sync' ? join(target, 'current') : target;
  rmSync(target, { recursive: true, force: true }); // every run starts from nothing
  const { proc: webProc, base } = await startWeb(WEB, served);

  const t0 = performance.now();
  const [cmd, args]: [string, string[]] =
    contender === 'content-sync' ? [process.execPath, [SYNC]] : ['bash', [SHELL, src, served]];
  const env: Record<string, string> =
    contender === 'content-sync'
      ? {
          SYNC_SOURCE: src,
          SYNC_TARGET: target,
          SYNC_ADMIN_PORT: '0',
          SYNC_ADMIN_HOST: '127.0.0.1',
          SYNC_LOG_LEVEL: 'warn',
          // web resolves the root on every request, so a replaced snapshot is free to be recycled
          // (updated in place into the next one) very soon; the default is 10s.
          SYNC_PRUNE_GRACE: GRACE,
        }
      : {};
  const { proc, pids, peakKiB, stopSampling } = startSampled(cmd, args, env, limit, 50);
  const lastFile = files - 1;
  const lastUrl = `${base}/d${Math.floor(lastFile / 100)}/f${lastFile % 100}.txt`;
  await until(
    'first publish',
    async () => ((await get(lastUrl)) === body(`file ${lastFile} v0`) ? true : undefined),
    300_000,
  );
  const firstPublishMs = performance.now() - t0;

  // Let the watcher finish setting up: the watch count stops moving.
  let watches = -1;
  for (let stable = 0; stable < 3; ) {
    await sleep(300);
    const w = pids().reduce((n, p) => n + inotifyWatches(p), 0);
    stable = w === watches && w > 0 ? stable + 1 : 0;
    watches = w;
  }

  // Propagation: one edit at a time (same size, so rsync needs --checksum), served when web returns it.
  const edits = files <= 1000 ? 40 : files <= 10_000 ? 30 : 10;
  const gap = GAP_MS;
  const lat: number[] = [];
  for (let k = 0; k < edits; k++) {
    const i = (k * 7919) % files;
    const rel = `d${Math.floor(i / 100)}/f${i % 100}.txt`;
    const text = body(`file ${i} edit ${k} ${contender}`);
    const t = performance.now();
    writeFileSync(join(src, rel), text);
    await until(
      `edit ${k}`,
      async () => ((await get(`${base}/${rel}`)) === text ? true : undefined),
      120_000,
    );
    lat.push(performance.now() - t);
    await sleep(gap);
  }

  // Half-updated trees: GROUP files rewritten together, 10 times; a reader resolves the served
  // root once (as one request does) and reads the whole group from it, over and over.
  let mixedReads = 0;
  let treeReads = 0;
  let reading = true;
  const reader = (async () => {
    while (reading) {
      try {
        const rootNow = realpathSync(served);
        const versions = new Set<string>();
        for (let g = 0; g < GROUP; g++)
          versions.add(readFileSync(join(rootNow, 'group', `g${g}.txt`), 'utf8').slice(0, 4));
        treeReads++;
        if (versions.size > 1) mixedReads++;
      } catch {
        // a file replaced between listing and reading: not a tree read
      }
      await new Promise((r) => setImmediate(r));
    }
  })();
  for (let r = 1; r <= 10; r++) {
    const v = `v${r}`.padEnd(3, ' ');
    for (let g = 0; g < GROUP; g++) writeFileSync(join(src, 'group', `g${g}.txt`), `${v} `.repeat(1000));
    await until(
      `group ${r}`,
      async () => ((await get(`${base}/group/g${GROUP - 1}.txt`))?.startsWith(v) ? true : undefined),
      120_000,
    );
    await sleep(GAP_MS);
  }
  reading = false;
  await reader;

  // Idle: nothing changes for 3 s.
  await sleep(1000);
  const idlePids = pids();
  const cpu0 = idlePids.reduce((n, p) => n + cpuSeconds(p), 0);
  await sleep(3000);
  const cpu1 = idlePids.reduce((n, p) => n + cpuSeconds(p), 0);
  const rss = pids().reduce((n, p) => n + rssKiB(p), 0);
  stopSampling();
  const names = pids().map(commandOf).join('+');
  await proc.stop();
  await webProc.stop();
  return {
    contender:
      contender === 'content-sync' ? `content-sync${limit ? '' : ' (no limit)'}` : `shell (${names})`,
    limit: limit ? LIMIT : 'none',
    files,
    firstPublishMs,
    p50Ms: pct(lat, 50),
    p99Ms: pct(lat, 99),
    edits,
    rssMiB: rss / 1024,
    peakRssMiB: peakKiB() / 1024,
    watches,
    idleCpuPct: ((cpu1 - cpu0) / 3) * 100,
    mixedReads,
    treeReads,
  };
}

// Each run gets a fresh cgroup: page cache charged to an earlier run's cgroup stays out of the next.
let noLimit: string | undefined;
async function run(c: 'content-sync' | 'shell', files: number, dir: string, limited: boolean) {
  const limit = limited ? memoryCgroup(`multipod-bench-${process.pid}`, parseQuantity(LIMIT)) : undefined;
  if (typeof limit === 'string') noLimit = limit;
  const cg = typeof limit === 'string' ? undefined : limit;
  console.log(`… ${files} files: ${c}, memory limit ${cg ? LIMIT : 'none'}`);
  try {
    results.push(await measure(c, files, dir, cg));
  } finally {
    await cg?.remove();
  }
}

const results: Result[] = [];
for (const files of sizes) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-content-sync-'));
  try {
    makeTree(join(dir, 'src'), files);
    await run('content-sync', files, dir, true);
    await run('shell', files, dir, true);
    // The same without a limit, as a bare `node main.js` on this host (Node sizes its heap for the host).
    if (!noLimit) await run('content-sync', files, dir, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(n < 10 ? 1 : 0) : '–');
const verdict = (ok: boolean) => (ok ? 'MET' : 'NOT MET');
if (sizes.length) {
  const lines = [
    '| files | sidecar | memory limit | first publish | write→served p50 | p99 | p99 ratio | RSS idle | RSS peak | inotify watches | idle CPU | half-updated tree reads |',
    '| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    const shell = results.find((x) => x.files === r.files && x.contender.startsWith('shell'));
    const ratio = shell && r !== shell ? `${(r.p99Ms / shell.p99Ms).toFixed(2)}×` : '1×';
    lines.push(
      `| ${r.files + GROUP} | ${r.contender} | ${r.limit} | ${f1(r.firstPublishMs)} ms | ${f1(r.p50Ms)} ms | ${f1(r.p99Ms)} ms | ${ratio} | ${f1(r.rssMiB)} MiB | ${f1(r.peakRssMiB)} MiB | ${r.watches} | ${r.idleCpuPct.toFixed(2)} % | ${r.mixedReads} of ${r.treeReads} |`,
    );
  }
  const table = lines.join('\n');

  // The issue's goals, judged on the rows that ran as the pod does (under the limit when there is one).
  const asDeployed = results.filter((r) => r.limit !== 'none' || noLimit);
  const cs = asDeployed.filter((r) => r.contender.startsWith('content-sync'));
  const shellOf = (r: Result) =>
    asDeployed.find((x) => x.files === r.files && x.contender.startsWith('shell'));
  const goals: string[] = [];
  const small = cs.find((r) => r.files === 1000);
  if (small) goals.push(`p99 ≤ 50 ms at 1k files: ${f1(small.p99Ms)} ms ${verdict(small.p99Ms <= 50)}`);
  goals.push(
    `p99 below the shell sidecar's at every size: ${cs.map((r) => `${f1(r.p99Ms)} vs ${f1(shellOf(r)?.p99Ms ?? Number.NaN)} ms`).join(', ')} ${verdict(cs.every((r) => r.p99Ms < (shellOf(r)?.p99Ms ?? 0)))}`,
    // One watch per directory: files/100 directories, the group, and the root.
    `watches ≈ directories: ${cs.map((r) => `${r.watches} for ${r.files / 100 + 2}`).join(', ')} ${verdict(cs.every((r) => r.watches <= (r.files / 100 + 2) * 1.05))}`,
    `idle CPU ≈ 0: ${cs.map((r) => `${r.idleCpuPct.toFixed(2)} %`).join(', ')} ${verdict(cs.every((r) => r.idleCpuPct < 1))}`,
    `never a half-updated tree: ${cs.reduce((n, r) => n + r.mixedReads, 0)} mixed reads ${verdict(cs.every((r) => r.mixedReads === 0))}`,
  );
  const big = cs.find((r) => r.files === 100_000);
  if (big)
    goals.push(
      `RSS ≤ 150 MiB at 100k files${noLimit ? '' : ` (memory limit ${LIMIT})`}: peak ${f1(big.peakRssMiB)} MiB ${verdict(big.peakRssMiB <= 150)}`,
    );
  const note = [
    `Edits per run: ${results.map((r) => `${r.files}: ${r.edits}`).join(', ')}; one at a time, ${GAP_MS} ms apart, each keeping the file's size (so rsync needs --checksum). Write → served = until multipod-web returns the new bytes.`,
    `Trees: 100-file directories of ${FILE_BYTES}-byte files, plus a ${GROUP}-file group rewritten 10 times: "half-updated tree reads" counts reads of the whole group, from a root resolved once, that mixed two versions.`,
    noLimit
      ? `No memory limit could be set (${noLimit}): every row ran without one.`
      : `Memory limit: ${LIMIT}, the one manifests/sidecar/sidecar.yaml gives content-sync, set as a memory cgroup around each sidecar (as in its pod; Node sizes its heap from it). "none": the same content-sync without a limit on this host.`,
    `content-sync runs with SYNC_PRUNE_GRACE=${GRACE} (default 10s; web resolves the root per request), so replaced snapshots are recycled. RSS peak is sampled every 50 ms over the sidecar's processes (rsync's children included). Idle CPU over 3 s after the run (content-sync may still be pruning then).`,
    `${new Date().toISOString()}, on ${machineLoad()}.`,
  ].join('\n');
  const goalText = `### Goals\n\n${goals.map((g) => `- ${g}`).join('\n')}`;
  console.log(`\n${table}\n\n${note}\n\n${goalText}\n`);
  mkdirSync(join(repo, 'bench/results'), { recursive: true });
  writeFileSync(
    join(repo, 'bench/results/content-sync.md'),
    `# content-sync vs inotifywait + rsync\n\n\`BENCH_SIZES=${sizes.join(',')} pnpm bench content-sync\`\n\n${table}\n\n${note}\n\n${goalText}\n`,
  );
  writeFileSync(
    join(repo, 'bench/results/content-sync.json'),
    `${JSON.stringify({ sizes, results }, null, 2)}\n`,
  );
}

// git: content-sync on a git source against git-sync's method in shell, same repository and server.
if (GIT_FILES > 0) {
  const gitRows = await gitBench({
    sync: SYNC,
    web: WEB,
    shell: GIT_SHELL,
    files: GIT_FILES,
    pushes: GIT_PUSHES,
    period: GIT_PERIOD,
    limit: () => memoryCgroup(`multipod-bench-git-${process.pid}`, parseQuantity(LIMIT)),
    limitLabel: LIMIT,
    body,
    until,
    get,
  });
  const shell = gitRows.find((r) => r.contender.startsWith('shell'));
  const cs = gitRows.find((r) => r.contender.startsWith('content-sync'));
  const gitTable = [
    '| files | sidecar | memory limit | first clone | RSS peak (first clone) | push→served p50 | p99 | p99 ratio | CPU per push | idle CPU | RSS peak (run) |',
    '| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...gitRows.map(
      (r) =>
        `| ${r.files} | ${r.contender} | ${r.limit} | ${f1(r.firstCloneMs)} ms | ${f1(r.firstClonePeakMiB)} MiB | ${f1(r.p50Ms)} ms | ${f1(r.p99Ms)} ms | ${r === shell || !shell ? '1×' : `${(r.p99Ms / shell.p99Ms).toFixed(2)}×`} | ${f1(r.cpuMsPerPush)} ms | ${r.idleCpuPct.toFixed(2)} % | ${f1(r.peakRssMiB)} MiB |`,
    ),
  ].join('\n');
  const gitGoals = [
    `push → served p99 within the shell loop's + 100 ms: ${f1(cs?.p99Ms ?? Number.NaN)} vs ${f1(shell?.p99Ms ?? Number.NaN)} ms ${verdict((cs?.p99Ms ?? Infinity) <= (shell?.p99Ms ?? 0) + 100)}`,
    `RSS ≤ 150 MiB at ${GIT_FILES} files (first clone included): peak ${f1(cs?.peakRssMiB ?? Number.NaN)} MiB ${verdict((cs?.peakRssMiB ?? Infinity) <= 150)}`,
  ];
  const gitNote = [
    `Both poll every ${GIT_PERIOD} (SYNC_INTERVAL; the shell's sleep) the same local smart-HTTP server (git http-backend behind a CGI bridge); ${GIT_PUSHES} pushes, each one ${FILE_BYTES}-byte file changed, 150–350 ms apart. Push → served: from the end of \`git push\` until multipod-web returns the new bytes. CPU per push: the sidecar's processes (the shell's git children included) over the push phase, polling included. Idle CPU over 3 s. RSS peak sampled every 20 ms over the sidecar's processes.`,
    `The shell sidecar (bench/content-sync/git-sidecar.sh) does what git-sync does: \`git fetch --depth 1\` into a bare repository, \`git worktree add\` for a new commit, a symlink swapped with \`mv -T\`, the old worktree removed.`,
    `${new Date().toISOString()}, on ${machineLoad()}.`,
  ].join('\n');
  const gitText = `${gitTable}\n\n${gitNote}\n\n### Goals\n\n${gitGoals.map((g) => `- ${g}`).join('\n')}\n`;
  console.log(`\n${gitText}`);
  mkdirSync(join(repo, 'bench/results'), { recursive: true });
  writeFileSync(
    join(repo, 'bench/results/content-sync-git.md'),
    `# content-sync (git source) vs git fetch + worktree in shell\n\n\`BENCH_GIT_FILES=${GIT_FILES} pnpm bench content-sync\`\n\n${gitText}`,
  );
  writeFileSync(
    join(repo, 'bench/results/content-sync-git.json'),
    `${JSON.stringify({ files: GIT_FILES, pushes: GIT_PUSHES, period: GIT_PERIOD, results: gitRows }, null, 2)}\n`,
  );
}
