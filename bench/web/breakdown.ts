// `node bench/web/breakdown.ts`: where web's CPU per request goes beyond Node's own floor, at 1 KB.
// The bare floor (bare-server.ts) is run plain and with one of web's per-request costs added at a
// time (BARE_ADD: stat, headers, log, timeout), then with all four, beside web itself; each pinned
// to core 0, wrk on core 1, in alternating rounds. What web costs beyond "floor + all" is its own
// request handling (request gate, path check, cache lookup, conditional requests).
// BENCH_SECONDS (2), BENCH_ROUNDS (7), BENCH_CONNECTIONS (32), BENCH_FILE (1k.txt).
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { freePort, have, PINNING, startProcess, stopAll, waitForPort, wrk } from '../tools.ts';
import { makeSite } from './site.ts';

const repo = join(import.meta.dirname, '../..');
const seconds = Number(process.env.BENCH_SECONDS ?? 2);
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const file = process.env.BENCH_FILE ?? '1k.txt';
if (!have('wrk')) {
  console.error('bench/web/breakdown.ts needs wrk: run scripts/install-system-deps.sh');
  process.exit(1);
}

const { dir, snap, root } = makeSite('bench-web-breakdown-');

const variants: { name: string; add?: string }[] = [
  { name: 'floor', add: '' },
  { name: 'floor + stat', add: 'stat' },
  { name: 'floor + 9 headers', add: 'headers' },
  { name: 'floor + access log', add: 'log' },
  { name: 'floor + timeouts', add: 'timeout' },
  { name: 'floor + all four', add: 'stat,headers,log,timeout' },
  { name: 'web' },
];
const startLoad = loadavg()[0]!;
const us: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v.name, []]));
try {
  const servers: { name: string; port: number; pid: number }[] = [];
  for (const v of variants) {
    const port = await freePort();
    const args =
      v.add === undefined
        ? [join(repo, 'packages/web/dist/main.js'), '--port', String(port), '--host', '127.0.0.1']
        : [join(import.meta.dirname, 'bare-server.ts'), String(port), snap];
    if (v.add === undefined) args.push('--root', root);
    const env = { BARE_ADD: v.add ?? '', WEB_ACCESS_LOG: join(dir, 'web-access.log'), WEB_LOG_LEVEL: 'warn' };
    const child = startProcess(process.execPath, args, env, 'server');
    await waitForPort(port);
    servers.push({ name: v.name, port, pid: child.pid! });
  }
  const url = (port: number) => `http://127.0.0.1:${port}/${file}`;
  for (const s of servers) await wrk(url(s.port), { seconds: 1, connections }, [s.pid]); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const s of round % 2 ? [...servers].reverse() : servers) {
      const r = await wrk(url(s.port), { seconds, connections }, [s.pid]);
      us[s.name]!.push(r.cpuUsPerRequest);
    }
  }
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const floor = median(us.floor!);
const pinned = PINNING ? 'pinned to core 0, wrk on core 1' : 'NOT pinned (one core or no taskset)';
console.log(
  `${file}, wrk -t1 -c${connections} -d${seconds}s × ${rounds} rounds, ${pinned}, Node ${process.version}, load average ${startLoad.toFixed(1)} at the start, ${new Date().toISOString().slice(0, 16)}Z\n`,
);
console.log('| server | CPU µs/req (median) | beyond the floor | lowest–highest |');
console.log('| --- | ---: | ---: | ---: |');
for (const v of variants) {
  const xs = us[v.name]!;
  const m = median(xs);
  const delta = v.name === 'floor' ? '—' : `${m >= floor ? '+' : ''}${(m - floor).toFixed(1)}`;
  console.log(
    `| ${v.name} | ${m.toFixed(1)} | ${delta} | ${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)} |`,
  );
}
