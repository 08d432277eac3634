// `pnpm bench web`: nginx (1 worker, sendfile, open_file_cache), multipod-web (one Node process),
// the same binary with every request through express, and a bare node:http server (the floor)
// serve the same 1 KB, 10 KB and 100 KB files, nginx and web both writing their access log.
// Judged by CPU per request: each server pinned to core 0, wrk on core 1 (1 thread, 32
// connections), CPU read from /proc over each run; req/s shown beside it. Several short rounds,
// the servers in alternating order, so a busy moment of the shared machine lands on all of them;
// the spread is printed. Writes bench/results/web.md and web.json.
// BENCH_SECONDS (2), BENCH_ROUNDS (5), BENCH_CONNECTIONS (32), BENCH_PROFILE=1 (a CPU profile of
// web at each size, summarized by share).
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { findNginx, type Nginx, startNginx } from '../../packages/service/src/testing-nginx.ts';
import { type ProfileSummary, summarize } from '../profile.ts';
import {
  freePort,
  have,
  PINNING,
  processTree,
  startProcess,
  stopAll,
  type WrkResult,
  waitForPort,
  wrk,
} from '../tools.ts';
import { FILES, makeSite } from './site.ts';

const repo = join(import.meta.dirname, '../..');
const mainJs = join(repo, 'packages/web/dist/main.js');
const mainTs = join(repo, 'packages/web/src/main.ts');
const seconds = Number(process.env.BENCH_SECONDS ?? 2);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const profile = process.env.BENCH_PROFILE === '1';
const startLoad = loadavg()[0]!;
const GOALS: Record<string, number> = { '1 KB': 0.5, '10 KB': 0.5, '100 KB': 0.8 };
const sizes = FILES.map((f) => ({ ...f, goal: GOALS[f.name]! }));

if (!findNginx() || !have('wrk')) {
  console.error(
    'bench web needs nginx and wrk: run scripts/install-system-deps.sh (Debian packages nginx, wrk)',
  );
  process.exit(1);
}

const { dir, snap, root } = makeSite('bench-web-');

type Name = 'nginx' | 'web' | 'express' | 'floor';
const NAMES: Name[] = ['nginx', 'web', 'express', 'floor'];
type Run = WrkResult & { cpuMs: number; cpuUsPerRequest: number };
interface Server {
  port: number;
  pids: () => number[];
  child?: ChildProcess;
}

/** Pins every thread of the processes to the server core (nginx is started before it can be). */
function pin(pids: number[]): void {
  if (!PINNING) return;
  for (const pid of pids)
    execFileSync('taskset', ['-a', '-p', '-c', PINNING.server, String(pid)], { stdio: 'ignore' });
}

async function startWeb(fastPath: boolean, profileDir?: string): Promise<Server> {
  const port = await freePort();
  const child = startProcess(
    process.execPath,
    [
      // Profiled from the sources (the same code, unbundled) so the profile can name each library.
      ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, mainTs] : [mainJs]),
      ...['--port', String(port), '--host', '127.0.0.1', '--root', root, '--fast-path', String(fastPath)],
    ],
    { WEB_ACCESS_LOG: join(dir, `web-${fastPath}.log`), WEB_LOG_LEVEL: 'warn' },
    'server',
  );
  await waitForPort(port);
  return { port, pids: () => [child.pid!], child };
}

async function startFloor(): Promise<Server> {
  const port = await freePort();
  const child = startProcess(
    process.execPath,
    [join(import.meta.dirname, 'bare-server.ts'), String(port), snap],
    {},
    'server',
  );
  await waitForPort(port);
  return { port, pids: () => [child.pid!] };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[]) => [Math.min(...xs), Math.max(...xs)] as const;

interface Row {
  size: string;
  goal: number;
  runs: Record<Name, Run[]>;
  /** Median CPU µs per request and req/s of each server. */
  us: Record<Name, number>;
  rps: Record<Name, number>;
  /** nginx µs / web µs, the median of the per-round ratios (higher is better for web). */
  efficiency: number;
  efficiencySpread: readonly [number, number];
  profile?: ProfileSummary;
}

let nginx: Nginx | undefined;
const rows: Row[] = [];
try {
  nginx = await startNginx(join(dir, 'nginx'), {
    http: `sendfile on; tcp_nopush on; tcp_nodelay on; keepalive_requests 1000000;
  open_file_cache max=1000 inactive=60s; open_file_cache_valid 30s; open_file_cache_min_uses 1;
  access_log ${join(dir, 'nginx-access.log')} combined buffer=64k flush=1s;`,
    server: `root ${root};`,
  });
  const nginxPid = nginx.child.pid!;
  pin(processTree(nginxPid));
  const servers: Record<Name, Server> = {
    nginx: { port: nginx.port, pids: () => processTree(nginxPid) },
    web: await startWeb(true),
    express: await startWeb(false),
    floor: await startFloor(),
  };
  for (const s of sizes) {
    const url = (n: Name) => `http://127.0.0.1:${servers[n].port}/${s.file}`;
    for (const n of NAMES) await wrk(url(n), { seconds: 1, connections }, servers[n].pids()); // warm-up
    const runs = { nginx: [], web: [], express: [], floor: [] } as Record<Name, Run[]>;
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 ? [...NAMES].reverse() : NAMES;
      for (const n of order) runs[n].push(await wrk(url(n), { seconds, connections }, servers[n].pids()));
    }
    const per = (n: Name, k: 'cpuUsPerRequest' | 'rps') => median(runs[n].map((r) => r[k]));
    const ratios = runs.web.map((r, i) => runs.nginx[i]!.cpuUsPerRequest / r.cpuUsPerRequest);
    const row: Row = {
      size: s.name,
      goal: s.goal,
      runs,
      us: Object.fromEntries(NAMES.map((n) => [n, per(n, 'cpuUsPerRequest')])) as Record<Name, number>,
      rps: Object.fromEntries(NAMES.map((n) => [n, per(n, 'rps')])) as Record<Name, number>,
      efficiency: median(ratios),
      efficiencySpread: spread(ratios),
    };
    rows.push(row);
    console.log(
      `${s.name}: CPU µs/request nginx ${row.us.nginx.toFixed(1)}, web ${row.us.web.toFixed(1)} (${row.efficiency.toFixed(2)}×), floor ${row.us.floor.toFixed(1)}`,
    );
  }
  if (profile) {
    // A separate web process with --cpu-prof, loaded the same way, one profile per size.
    for (const s of sizes) {
      const profDir = join(dir, `prof-${s.file}`);
      mkdirSync(profDir);
      const web = await startWeb(true, profDir);
      await wrk(`http://127.0.0.1:${web.port}/${s.file}`, { seconds: seconds * 2, connections }, web.pids());
      // The profile is written as the process exits (SIGTERM: web drains and exits 0).
      const exited = new Promise((r) => web.child!.once('exit', r));
      web.child!.kill('SIGTERM');
      await exited;
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (file) rows.find((r) => r.size === s.name)!.profile = summarize(join(profDir, file));
    }
  }
} finally {
  await nginx?.stop();
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const k = (n: number) => Math.round(n).toLocaleString('en');
const usSpread = (r: Row, n: Name) => {
  const [lo, hi] = spread(r.runs[n].map((x) => x.cpuUsPerRequest));
  return `${f1(lo)}–${f1(hi)}`;
};
const pinned = PINNING
  ? `each server pinned to core ${PINNING.server} (taskset), wrk on core ${PINNING.load}`
  : 'NOT pinned (one core or no taskset): CPU per request is less reliable';
const errors = rows.flatMap((r) =>
  NAMES.flatMap((n) => r.runs[n].filter((x) => x.errors + x.non2xx > 0).map(() => `${r.size} ${n}`)),
);
const lines = [
  `wrk -t1 -c${connections} -d${seconds}s × ${rounds} rounds per server and size, servers in alternating order; ${pinned}; keep-alive; one nginx worker vs one Node ${process.version} process; nginx and web both write an access log. Measured ${new Date().toISOString().slice(0, 16)}Z, load average ${startLoad.toFixed(1)} at the start.`,
  '',
  '| file | efficiency vs nginx | goal | nginx CPU µs/req | web CPU µs/req | floor CPU µs/req | express-only CPU µs/req | nginx req/s | web req/s | floor req/s | nginx p99 | web p99 |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.size} | **${f2(r.efficiency)}×** | ≥ ${r.goal}× | ${f1(r.us.nginx)} | ${f1(r.us.web)} | ${f1(r.us.floor)} | ${f1(r.us.express)} | ${k(r.rps.nginx)} | ${k(r.rps.web)} | ${k(r.rps.floor)} | ${f2(median(r.runs.nginx.map((x) => x.p99Ms)))} ms | ${f2(median(r.runs.web.map((x) => x.p99Ms)))} ms |`,
  ),
  '',
  'Spread over the rounds (CPU µs per request, lowest–highest; efficiency = nginx µs / web µs per round):',
  '',
  '| file | nginx | web | floor | efficiency |',
  '| --- | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.size} | ${usSpread(r, 'nginx')} | ${usSpread(r, 'web')} | ${usSpread(r, 'floor')} | ${f2(r.efficiencySpread[0])}–${f2(r.efficiencySpread[1])}× |`,
  ),
  '',
  ...rows.map(
    (r) =>
      `- ${r.size}: efficiency ≥ ${r.goal}× nginx: ${f2(r.efficiency)}× ${r.efficiency >= r.goal ? 'MET' : 'NOT MET'}; web costs ${f2(r.us.web / r.us.floor)}× the floor`,
  ),
  '',
  '"efficiency" is nginx\'s CPU per request over web\'s (1× = as cheap as nginx). "web" answers cached',
  'hits on the raw http fast path; "express-only" is the same binary with `--fast-path false`;',
  '"floor" is bench/web/bare-server.ts, a node:http server answering the bytes from memory with no',
  'features (no stat, no conditional requests, no access log): the least a Node server costs.',
  ...(errors.length ? ['', `runs with errors (non-2xx or socket): ${errors.join(', ')}`] : []),
];
for (const r of rows.filter((x) => x.profile)) {
  const p = r.profile!;
  lines.push(
    '',
    `#### Where web's CPU goes, ${r.size} (node --cpu-prof, self time by share)`,
    '',
    '| part | share |',
    '| --- | ---: |',
    ...p.byCategory.map((c) => `| ${c.name} | ${c.share}% |`),
    '',
    '| function | where | share |',
    '| --- | --- | ---: |',
    ...p.topFunctions.map((f) => `| \`${f.name}\` | ${f.where} | ${f.share}% |`),
  );
}
const table = lines.join('\n');
console.log(`\n${table}\n`);
const results = join(repo, 'bench/results');
mkdirSync(results, { recursive: true });
writeFileSync(join(results, 'web.md'), `# bench web\n\n${table}\n`);
writeFileSync(
  join(results, 'web.json'),
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, pinned: PINNING ?? null, seconds, rounds, connections, loadAverage: startLoad, rows }, null, 2)}\n`,
);
