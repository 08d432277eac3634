// `pnpm bench web`: nginx (1 worker, sendfile, open_file_cache) and multipod-web (one Node process)
// serve the same 1 KB, 10 KB and 100 KB files; wrk loads each with keep-alive for a few seconds.
// Prints req/s, p99 and the ratio; writes bench/results/web.md and web.json.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findNginx, type Nginx, startNginx } from '../../packages/service/src/testing-nginx.ts';

const repo = join(import.meta.dirname, '../..');
const mainJs = join(repo, 'packages/web/dist/main.js');
const seconds = Number(process.env.BENCH_SECONDS ?? 1);
// The machine is shared: short rounds, nginx and web back to back in each, resist noise better than
// one long run. A ratio is the median of the per-round ratios (adjacent runs share the machine's state).
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const sizes = [
  { name: '1 KB', file: '1k.txt', bytes: 1024, goal: 0.5 },
  { name: '10 KB', file: '10k.txt', bytes: 10 * 1024, goal: 0.5 },
  { name: '100 KB', file: '100k.txt', bytes: 100 * 1024, goal: 0.8 },
];

const missing = () => !findNginx() || Boolean(spawnSync('wrk', ['--version']).error);
if (missing() && process.getuid?.() === 0) {
  console.log('bench web: installing nginx and wrk (scripts/install-system-deps.sh)');
  spawnSync('bash', [join(repo, 'scripts/install-system-deps.sh')], { stdio: 'inherit' });
}
if (missing()) {
  console.error(
    'bench web needs nginx and wrk: run scripts/install-system-deps.sh (Debian packages nginx, wrk)',
  );
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'bench-web-'));
chmodSync(dir, 0o755); // nginx's worker runs as nobody when started by root
const snap = join(dir, 'www/.snapshots/s1');
mkdirSync(snap, { recursive: true });
for (const s of sizes) writeFileSync(join(snap, s.file), 'x'.repeat(s.bytes - 1) + '\n');
symlinkSync('.snapshots/s1', join(dir, 'www/current'));
const root = join(dir, 'www/current');

interface Run {
  rps: number;
  p99ms: number;
  errors: number;
  /** Requests completed and CPU seconds the server used for them (utime + stime from /proc). */
  requests: number;
  cpuS: number;
}

/** CPU seconds used so far by a process and its children (nginx's master + worker; Node's threads). */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const own = (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    return own + kids.reduce((n, k) => n + cpuSeconds(Number(k)), 0);
  } catch {
    return 0;
  }
}

function wrk(url: string, durationS: number, serverPid: number): Run {
  const cpu0 = cpuSeconds(serverPid);
  const r = spawnSync('wrk', ['-t1', `-c${connections}`, `-d${durationS}s`, '--latency', url], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? 0);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(r.stdout);
  const unit = { us: 0.001, ms: 1, s: 1000 } as const;
  const p99ms = p99 ? Number(p99[1]) * unit[p99[2] as keyof typeof unit] : Number.NaN;
  const errs = /Non-2xx or 3xx responses:\s+(\d+)/.exec(r.stdout);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(r.stdout);
  const errors = Number(errs?.[1] ?? 0) + (sock ? sock.slice(1).reduce((n, x) => n + Number(x), 0) : 0);
  const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? 0);
  return { rps, p99ms, errors, requests, cpuS: cpuSeconds(serverPid) - cpu0 };
}

function medianOf(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/** The run with the median req/s (its p99 goes with it). */
function median(runs: Run[]): Run {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function startWeb(fastPath: boolean): Promise<{ port: number; child: ChildProcess }> {
  const [cmd, ...args] = [
    process.execPath,
    mainJs,
    ...['--port', '0', '--host', '127.0.0.1', '--root', root, '--fast-path', String(fastPath)],
  ];
  const child = spawn(cmd!, args, {
    env: { ...process.env, WEB_ACCESS_LOG: join(dir, `web-${fastPath}.log`), WEB_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /"port":(\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`web exited with ${code}`)));
  });
  return { port, child };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

let nginx: Nginx | undefined;
const procs: ChildProcess[] = [];
type Row = {
  size: string;
  goal: number;
  nginx: Run;
  web: Run;
  express: Run;
  webRatio: number;
  expressRatio: number;
  /** Requests per CPU-second of the server, over all rounds: less sensitive to a busy machine. */
  perCpu: { nginx: number; web: number; express: number };
};
const rows: Row[] = [];
try {
  nginx = await startNginx(join(dir, 'nginx'), {
    http: `sendfile on; tcp_nopush on; tcp_nodelay on; keepalive_requests 1000000;
  open_file_cache max=1000 inactive=60s; open_file_cache_valid 30s; open_file_cache_min_uses 1;
  access_log ${join(dir, 'nginx-access.log')} combined buffer=64k flush=1s;`,
    server: `root ${root};`,
  });
  const web = await startWeb(true);
  const express = await startWeb(false);
  procs.push(web.child, express.child);
  const targets = {
    nginx: [nginx.port, nginx.child.pid!],
    web: [web.port, web.child.pid!],
    express: [express.port, express.child.pid!],
  } as const;
  for (const s of sizes) {
    const row = { size: s.name, goal: s.goal } as Row;
    const runs: Record<string, Run[]> = { nginx: [], web: [], express: [] };
    for (const [port, pid] of Object.values(targets)) wrk(`http://127.0.0.1:${port}/${s.file}`, 1, pid); // warm-up
    for (let round = 0; round < rounds; round++)
      for (const [name, [port, pid]] of Object.entries(targets))
        runs[name]!.push(wrk(`http://127.0.0.1:${port}/${s.file}`, seconds, pid));
    for (const name of ['nginx', 'web', 'express'] as const) row[name] = median(runs[name]!);
    const ratios = (name: 'web' | 'express') => runs[name]!.map((r, i) => r.rps / runs.nginx![i]!.rps);
    row.webRatio = medianOf(ratios('web'));
    row.expressRatio = medianOf(ratios('express'));
    const perCpu = (name: string) =>
      runs[name]!.reduce((n, r) => n + r.requests, 0) / runs[name]!.reduce((n, r) => n + r.cpuS, 0);
    row.perCpu = { nginx: perCpu('nginx'), web: perCpu('web'), express: perCpu('express') };
    rows.push(row);
    console.log(`${s.name}: nginx ${row.nginx.rps.toFixed(0)} req/s, web ${row.web.rps.toFixed(0)} req/s`);
  }
} finally {
  await nginx?.stop();
  for (const p of procs) await stopChild(p);
  rmSync(dir, { recursive: true, force: true });
}

const f0 = (n: number) => n.toFixed(0);
const f2 = (n: number) => n.toFixed(2);
const table = [
  `wrk -t1 -c${connections} -d${seconds}s × ${rounds} rounds, nginx and web back to back in each (medians; ratio = median of per-round ratios), keep-alive, one nginx worker vs one Node ${process.version} process, same files; ${new Date().toISOString().slice(0, 10)}.`,
  '',
  '| file | nginx req/s | web req/s | web / nginx | goal | nginx p99 | web p99 | req per CPU-s nginx / web (ratio) | express-only req/s | express-only / nginx |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.size} | ${f0(r.nginx.rps)} | ${f0(r.web.rps)} | **${f2(r.webRatio)}×** | ≥ ${r.goal}× | ${f2(r.nginx.p99ms)} ms | ${f2(r.web.p99ms)} ms | ${f0(r.perCpu.nginx)} / ${f0(r.perCpu.web)} (${f2(r.perCpu.web / r.perCpu.nginx)}×) | ${f0(r.express.rps)} | ${f2(r.expressRatio)}× |`,
  ),
  '',
  '"web" answers cached hits on the raw http fast path; "express-only" is the same binary with',
  '`--fast-path false`, every request through the express app. "req per CPU-s" divides the requests',
  'served by the CPU time the server process(es) used (/proc utime+stime): it moves less than req/s',
  'when other work shares the machine.',
  ...(rows.some((r) => r.nginx.errors + r.web.errors + r.express.errors)
    ? [
        '',
        `errors (non-2xx or socket): ${rows.map((r) => `${r.size} nginx ${r.nginx.errors} web ${r.web.errors} express ${r.express.errors}`).join('; ')}`,
      ]
    : []),
].join('\n');
console.log(`\n${table}\n`);
const results = join(repo, 'bench/results');
mkdirSync(results, { recursive: true });
writeFileSync(join(results, 'web.md'), `# bench web\n\n${table}\n`);
writeFileSync(
  join(results, 'web.json'),
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, seconds, rounds, connections, rows }, null, 2)}\n`,
);
