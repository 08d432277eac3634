// bench log-adapter: the adapter beside mtail (the tool people use for this job), in one run.
// 1. Ingest: the same generated log (web's format) appended to an empty file each tool is tailing;
//    lines/s until its /metrics shows every request, CPU seconds, and peak RSS.
// 2. The same with custom metrics: route templates, a counter by route and method, a histogram by
//    route (routes.yaml for the adapter, the same as regular expressions in routes.mtail).
// 3. Scrape: /metrics response time with ~1k and ~10k series (one series per user agent).
// Run with `pnpm bench log-adapter`; LOG_ADAPTER_BENCH_LINES overrides the line count (5M).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageNodeOptions } from '../image-node-options.ts';
import { generateLog } from './generate.ts';

// The machine as the figures were taken: cores, and the 1-minute load average before the bench began.
const startLoad = loadavg()[0]!;
const machineLoad = (): string =>
  `${availableParallelism()} cores, load average ${startLoad.toFixed(1)} at the start`;

const here = import.meta.dirname;
const root = join(here, '../..');
const main = join(root, 'packages/log-adapter/dist/main.js');
const LINES = Number(process.env.LOG_ADAPTER_BENCH_LINES ?? 5_000_000);
const TICK = 100; // clock ticks per second in /proc/<pid>/stat

if (spawnSync('mtail', ['--version']).error) {
  console.error('mtail is not installed: run scripts/install-system-deps.sh (apt-get install -y mtail)');
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'bench-log-adapter-'));
const children: ChildProcess[] = [];
const cleanup = () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

/** default: the default metrics; routes: plus custom metrics by route; series: one series per agent. */
type Variant = 'default' | 'routes' | 'series';

interface Tool {
  name: string;
  start(log: string, port: number, variant: Variant): ChildProcess;
}

/** A folder of mtail programs holding one program. */
function progsOf(program: string): string {
  const dir = join(work, `progs-${program}`);
  mkdirSync(dir);
  copyFileSync(join(here, program), join(dir, program));
  return dir;
}
const progs = { default: progsOf('access.mtail'), routes: progsOf('routes.mtail') };
const seriesConfig = join(work, 'series.yaml');
writeFileSync(
  seriesConfig,
  'metrics:\n  - name: http_requests_by_agent_total\n    labels: { agent: http_user_agent }\n',
);

const adapter: Tool = {
  name: 'log-adapter',
  start: (log, port, variant) =>
    spawn(process.execPath, [main], {
      env: {
        ...process.env,
        NODE_OPTIONS: imageNodeOptions('log-adapter'), // as the image runs it
        ADAPTER_LOG_PATH: log,
        ADAPTER_PORT: String(port),
        ADAPTER_HOST: '127.0.0.1',
        ADAPTER_LOG_LEVEL: 'warn',
        ...(variant === 'routes' ? { ADAPTER_CONFIG: join(here, 'routes.yaml') } : {}),
        ...(variant === 'series' ? { ADAPTER_CONFIG: seriesConfig, ADAPTER_MAX_SERIES: '20000' } : {}),
      },
      stdio: 'ignore',
    }),
};
const mtail: Tool = {
  name: 'mtail',
  start: (log, port, variant) =>
    spawn(
      'mtail',
      [
        '--progs',
        variant === 'routes' ? progs.routes : progs.default,
        '--logs',
        log,
        '--port',
        String(port),
        '--address',
        '127.0.0.1',
      ],
      { stdio: 'ignore' },
    ),
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metrics(port: number): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    return res.ok ? await res.text() : null;
  } catch {
    return null;
  }
}

function sum(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(`${name}{`)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  return total;
}

/** Count per route of http_requests_by_route_total (mtail adds a prog label; labels in any order). */
function byRoute(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('http_requests_by_route_total{')) continue;
    const route = /route="([^"]*)"/.exec(line)?.[1] ?? '?';
    out[route] = (out[route] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return Object.fromEntries(Object.entries(out).sort());
}

function proc(pid: number): { cpu: number; hwm: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpu = (Number(f[11]) + Number(f[12])) / TICK;
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  return { cpu, hwm };
}

async function started(port: number, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await metrics(port)) === null) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${what} did not start`);
    await sleep(50);
  }
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Appends the generated log to an empty file the tool is tailing; times until all is counted. */
async function ingest(tool: Tool, generated: string, port: number, variant: Variant = 'default') {
  const log = join(work, `${tool.name}.log`);
  writeFileSync(log, '');
  const child = tool.start(log, port, variant);
  // With custom metrics, done when both the default and the custom counters show every line.
  const done = (text: string) =>
    variant === 'routes'
      ? Math.min(sum(text, 'http_requests_total'), sum(text, 'http_requests_by_route_total'))
      : sum(text, 'http_requests_total');
  children.push(child);
  await started(port, child, tool.name);
  const before = proc(child.pid!);
  const t0 = performance.now();
  spawn('sh', ['-c', `cat '${generated}' >> '${log}'`], { stdio: 'ignore' });
  let counted = 0;
  let text = '';
  const deadline = t0 + 15 * 60_000;
  for (;;) {
    text = (await metrics(port)) ?? '';
    counted = done(text);
    if (counted >= LINES || performance.now() > deadline) break;
    await sleep(tool === mtail ? 200 : 20);
  }
  const seconds = (performance.now() - t0) / 1000;
  const after = proc(child.pid!);
  await stop(child);
  rmSync(log);
  return {
    counted,
    seconds,
    linesPerSec: counted / seconds,
    cpu: after.cpu - before.cpu,
    rss: after.hwm,
    routes: variant === 'routes' ? byRoute(text) : undefined,
  };
}

/** Median and worst /metrics time with one series per distinct user agent. */
async function scrape(tool: Tool, agents: number, port: number) {
  const log = join(work, `${tool.name}-series.log`);
  writeFileSync(log, '');
  const child = tool.start(log, port, 'series');
  children.push(child);
  await started(port, child, tool.name);
  generateLog(`${log}.src`, agents * 2, { agents, seed: 7 });
  spawnSync('sh', ['-c', `cat '${log}.src' >> '${log}'`]);
  const deadline = Date.now() + 120_000;
  let text = '';
  while (Date.now() < deadline) {
    text = (await metrics(port)) ?? '';
    if (sum(text, 'http_requests_by_agent_total') >= agents * 2) break;
    await sleep(100);
  }
  const series = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
  const times: number[] = [];
  for (let i = 0; i < 21; i++) {
    const t = performance.now();
    await metrics(port);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  await stop(child);
  rmSync(log);
  rmSync(`${log}.src`);
  return { series, median: times[10]!, worst: times[20]! };
}

// ---- run --------------------------------------------------------------------------------------
const generated = join(work, 'generated.log');
let t = performance.now();
generateLog(generated, LINES);
const size = statSync(generated).size;
console.log(
  `generated ${LINES.toLocaleString('en')} lines (${(size / 2 ** 20).toFixed(0)} MiB) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
);

t = performance.now();
const a = await ingest(adapter, generated, 19513);
console.log(`log-adapter: ${a.counted} lines in ${a.seconds.toFixed(2)} s`);
const m = await ingest(mtail, generated, 19514);
console.log(`mtail: ${m.counted} lines in ${m.seconds.toFixed(2)} s`);
const ar = await ingest(adapter, generated, 19517, 'routes');
console.log(`log-adapter, custom metrics: ${ar.counted} lines in ${ar.seconds.toFixed(2)} s`);
const mr = await ingest(mtail, generated, 19518, 'routes');
console.log(`mtail, custom metrics: ${mr.counted} lines in ${mr.seconds.toFixed(2)} s`);
// The two programs must agree, or the comparison means nothing.
if (JSON.stringify(ar.routes) !== JSON.stringify(mr.routes))
  throw new Error(
    `the tools count routes differently: ${JSON.stringify(ar.routes)} vs ${JSON.stringify(mr.routes)}`,
  );

const scrapes = [];
for (const agents of [1000, 10_000]) {
  scrapes.push({
    agents,
    adapter: await scrape(adapter, agents, 19515),
    mtail: await scrape(mtail, agents, 19516),
  });
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const ratio = (x: number, y: number) => `${(x / y).toFixed(1)}×`;
const rows = [
  `| measure | log-adapter | mtail | log-adapter vs mtail |`,
  `| --- | ---: | ---: | ---: |`,
  `| lines/s to fully ingested (${(LINES / 1e6).toFixed(1)} M lines, ${mib(size)}) | ${Math.round(a.linesPerSec).toLocaleString('en')} | ${Math.round(m.linesPerSec).toLocaleString('en')} | ${ratio(a.linesPerSec, m.linesPerSec)} faster |`,
  `| wall time to ingest | ${a.seconds.toFixed(2)} s | ${m.seconds.toFixed(2)} s | |`,
  `| CPU time to ingest | ${a.cpu.toFixed(2)} s | ${m.cpu.toFixed(2)} s | ${ratio(m.cpu, a.cpu)} less |`,
  `| CPU µs per line | ${((a.cpu / LINES) * 1e6).toFixed(2)} | ${((m.cpu / LINES) * 1e6).toFixed(2)} | |`,
  `| peak RSS (VmHWM) | ${mib(a.rss)} | ${mib(m.rss)} | |`,
  `| custom metrics (3 route templates, a counter by route and method, a histogram by route): lines/s to fully ingested | ${Math.round(ar.linesPerSec).toLocaleString('en')} | ${Math.round(mr.linesPerSec).toLocaleString('en')} | ${ratio(ar.linesPerSec, mr.linesPerSec)} faster |`,
  `| custom metrics: wall time to ingest | ${ar.seconds.toFixed(2)} s | ${mr.seconds.toFixed(2)} s | |`,
  `| custom metrics: CPU µs per line | ${((ar.cpu / LINES) * 1e6).toFixed(2)} | ${((mr.cpu / LINES) * 1e6).toFixed(2)} | ${ratio(mr.cpu, ar.cpu)} less |`,
  `| custom metrics: peak RSS (VmHWM) | ${mib(ar.rss)} | ${mib(mr.rss)} | |`,
  ...scrapes.map(
    (s) =>
      `| /metrics time, ${s.agents / 1000}k agents (${s.adapter.series} / ${s.mtail.series} series): median (worst of 21) | ${s.adapter.median.toFixed(1)} ms (${s.adapter.worst.toFixed(1)}) | ${s.mtail.median.toFixed(1)} ms (${s.mtail.worst.toFixed(1)}) | |`,
  ),
];
const note = `Measured ${new Date().toISOString().slice(0, 16)}Z on ${machineLoad()}, Node ${process.version} (log-adapter with NODE_OPTIONS=${imageNodeOptions('log-adapter') || '(none)'}, as in its image), mtail ${spawnSync('mtail', ['--version']).stdout.toString().split(' ')[2]}. Command: \`pnpm bench log-adapter\`.`;
const table = `${rows.join('\n')}\n\n${note}\n`;
console.log(`\n${table}`);
const results = join(root, 'bench/results');
mkdirSync(results, { recursive: true });
writeFileSync(join(results, 'log-adapter.md'), `# bench log-adapter\n\n${table}`);
writeFileSync(
  join(results, 'log-adapter.json'),
  `${JSON.stringify({ lines: LINES, bytes: size, adapter: a, mtail: m, custom: { adapter: ar, mtail: mr }, scrapes, benchSeconds: (performance.now() - t) / 1000 }, null, 2)}\n`,
);
cleanup();
