// The cost of operator patterns: CPU per line of the adapter on the paths where they run (a
// regex: format, filters and route templates in ADAPTER_CONFIG), beside the default path, on the
// same generated log. A focused measure, not part of `pnpm bench` (no reference tool to compare):
//   node bench/log-adapter/patterns.ts [path/to/dist/main.js]
// LOG_ADAPTER_BENCH_LINES sets the line count (500k).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageNodeOptions } from '../image-node-options.ts';
import { generateLog } from './generate.ts';

const here = import.meta.dirname;
const main = process.argv[2] ?? join(here, '../../packages/log-adapter/dist/main.js');
const LINES = Number(process.env.LOG_ADAPTER_BENCH_LINES ?? 500_000);
const work = mkdtempSync(join(tmpdir(), 'bench-patterns-'));
let child: ChildProcess | undefined;
process.on('exit', () => {
  child?.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

const config = (name: string, yaml: string) => {
  const path = join(work, `${name}.yaml`);
  writeFileSync(path, yaml);
  return path;
};
const cases: { name: string; env: Record<string, string> }[] = [
  { name: 'web format (no pattern)', env: {} },
  {
    name: 'regex: format (the same fields)',
    env: {
      ADAPTER_FORMAT:
        'regex:^(?<remote_addr>\\S+) \\S+ \\S+ \\[(?<time_local>[^\\]]+)\\] "(?<request>[^"]*)" (?<status>\\d{3}) (?<body_bytes_sent>\\d+|-) "[^"]*" "(?<http_user_agent>[^"]*)" (?<request_time>[\\d.]+)$',
    },
  },
  {
    name: 'nginx log_format (the same fields, no pattern of the operator)',
    env: {
      ADAPTER_FORMAT:
        '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time',
    },
  },
  {
    name: 'web + a filter (status: ^5)',
    env: {
      ADAPTER_CONFIG: config('filter', 'metrics:\n  - name: errors_total\n    filter: { status: "^5" }\n'),
    },
  },
  {
    name: 'web + 3 route templates (counter by route)',
    env: {
      ADAPTER_CONFIG: config(
        'routes',
        'routes: [/api/users/:id, /img/*, /*]\nmetrics:\n  - name: by_route_total\n    labels: { route: route }\n',
      ),
    },
  },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cpu = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
async function counted(port: number): Promise<number | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let n = 0;
    for (const l of text.split('\n'))
      if (l.startsWith('http_requests_total{')) n += Number(l.split(' ').pop());
    return n;
  } catch {
    return null;
  }
}

const generated = join(work, 'generated.log');
generateLog(generated, LINES);
const rows: string[] = [];
for (const c of cases) {
  const log = join(work, 'access.log');
  writeFileSync(log, '');
  const port = 19_600 + rows.length;
  child = spawn(process.execPath, [main], {
    env: {
      ...process.env,
      NODE_OPTIONS: imageNodeOptions('log-adapter'), // as the image runs it
      ADAPTER_LOG_PATH: log,
      ADAPTER_PORT: String(port),
      ADAPTER_HOST: '127.0.0.1',
      ...c.env,
    },
    stdio: 'ignore',
  });
  while ((await counted(port)) === null) await sleep(50);
  const before = cpu(child.pid!);
  const t0 = performance.now();
  spawnSync('sh', ['-c', `cat '${generated}' >> '${log}'`]);
  while (((await counted(port)) ?? 0) < LINES) await sleep(20);
  const seconds = (performance.now() - t0) / 1000;
  const used = cpu(child.pid!) - before;
  child.kill('SIGKILL');
  rows.push(
    `| ${c.name} | ${Math.round(LINES / seconds).toLocaleString('en')} | ${((used / LINES) * 1e6).toFixed(2)} |`,
  );
  console.error(rows.at(-1));
}
console.log(
  `\n| path (${LINES.toLocaleString('en')} lines) | lines/s | CPU µs per line |\n| --- | ---: | ---: |`,
);
console.log(rows.join('\n'));
console.log(`\n${main}, Node ${process.version}, ${new Date().toISOString().slice(0, 16)}Z`);
