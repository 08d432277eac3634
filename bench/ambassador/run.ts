// `pnpm bench ambassador`: the ambassador beside nginx proxy_pass (upstream keep-alive) and HAProxy,
// in one run, against one nginx origin (`return 200`, ~100 B). Reports req/s, p99 and CPU time per
// proxied request of each proxy process; p99 added at half load; TCP-mode bulk throughput against
// HAProxy mode tcp; a CPU profile of the ambassador; and a soak with the origin's keep-alive
// shorter than the proxy's. Flags: --duration 6s (each load run), --soak 60s (0 to skip; 10m for
// the full soak), --connections 50, --no-profile.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ambassadorYaml, haproxy, originNginx, proxyNginx } from './configs.ts';
import { summarize } from './profile.ts';
import { freePort, have, processTree, startProcess, stopAll, waitForPort, wrk } from './tools.ts';

// The machine as the figures were taken: cores, and the 1-minute load average before the bench began.
const startLoad = loadavg()[0]!;
const machineLoad = (): string =>
  `${availableParallelism()} cores, load average ${startLoad.toFixed(1)} at the start`;

const root = resolve(import.meta.dirname, '../..');
const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('--'));
const flag = (name: string, dflt: string) => {
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i === -1) return dflt;
  const a = args[i]!;
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : (args[i + 1] ?? dflt);
};
const seconds = (v: string) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v);
  if (!m) throw new Error(`not a duration: ${v}`);
  const n = Number(m[1]);
  return m[2] === 'm' ? n * 60 : m[2] === 'ms' ? n / 1000 : n;
};
const DURATION = seconds(flag('duration', '6s'));
const SOAK = seconds(flag('soak', '60s'));
const CONNECTIONS = Number(flag('connections', '50'));
const PROFILE = !args.includes('--no-profile');

const missing = ['nginx', 'haproxy', 'wrk'].filter((t) => !have(t));
if (missing.length > 0) {
  console.error(
    `bench ambassador needs ${missing.join(', ')}: run scripts/install-system-deps.sh (Debian: apt-get install -y nginx haproxy wrk)`,
  );
  process.exit(1);
}
const main = join(root, 'packages/ambassador/dist/main.js');
if (!existsSync(main))
  execFileSync(process.execPath, ['../../scripts/bundle.ts'], {
    cwd: join(root, 'packages/ambassador'),
    stdio: 'inherit',
  });

const dir = mkdtempSync(join(tmpdir(), 'bench-ambassador-'));
chmodSync(dir, 0o755); // nginx workers run as nobody and must read www/big.bin
mkdirSync(join(dir, 'tmp'));
mkdirSync(join(dir, 'www'));
writeFileSync(join(dir, 'www/big.bin'), Buffer.alloc(16 * 1024 * 1024, 0x5a));
writeFileSync(
  join(dir, 'pace.lua'),
  'local d = tonumber(os.getenv("DELAY_MS"))\nfunction delay() return d end\n',
);
// Half the requests right after the previous one, half after ~2 s: just when the origin (2 s
// keep-alive) closes idle connections the proxy may want to reuse.
writeFileSync(
  join(dir, 'soak.lua'),
  'math.randomseed(os.time())\nfunction delay()\n  if math.random() < 0.5 then return math.random(0, 20) end\n  return math.random(1900, 2100)\nend\n',
);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

async function bench(): Promise<void> {
  const [
    origin,
    nginxPort,
    haHttp,
    haTcp,
    ambHttp,
    ambTcp,
    ambAdmin,
    profHttp,
    profTcp,
    profAdmin,
    barePort,
  ] = await Promise.all(Array.from({ length: 11 }, freePort));
  writeFileSync(join(dir, 'origin.conf'), originNginx(dir, origin!, '2s'));
  writeFileSync(join(dir, 'proxy.conf'), proxyNginx(dir, nginxPort!, origin!));
  writeFileSync(join(dir, 'haproxy.cfg'), haproxy(haHttp!, haTcp!, origin!));
  writeFileSync(join(dir, 'ambassador.yaml'), ambassadorYaml(ambHttp!, ambTcp!, origin!));
  writeFileSync(join(dir, 'profile.yaml'), ambassadorYaml(profHttp!, profTcp!, origin!));

  const originProc = startProcess('nginx', ['-c', join(dir, 'origin.conf'), '-p', dir]);
  const nginxProc = startProcess('nginx', ['-c', join(dir, 'proxy.conf'), '-p', dir]);
  const haProc = startProcess('haproxy', ['-f', join(dir, 'haproxy.cfg'), '-db']);
  const ambEnv = (config: string, admin: number, accessLog: boolean, engine = 'http-proxy-3') => ({
    AMBASSADOR_HTTP_ENGINE: engine,
    AMBASSADOR_CONFIG: config,
    AMBASSADOR_ADMIN_PORT: String(admin),
    AMBASSADOR_LOG_LEVEL: 'warn',
    AMBASSADOR_ACCESS_LOG: String(accessLog),
    AMBASSADOR_DRAIN_DELAY: '0ms',
  });
  const ambProc = startProcess(
    process.execPath,
    [main],
    ambEnv(join(dir, 'ambassador.yaml'), ambAdmin!, true),
  );
  const bareProc = startProcess(process.execPath, [
    join(import.meta.dirname, 'bare-proxy.ts'),
    String(barePort),
    String(origin),
  ]);
  await Promise.all([origin, nginxPort, haHttp, ambHttp, ambTcp, barePort].map((p) => waitForPort(p!)));
  await sleep(300);
  const pids = {
    origin: processTree(originProc.pid!),
    nginx: processTree(nginxProc.pid!),
    haproxy: processTree(haProc.pid!),
    ambassador: [ambProc.pid!],
    bare: [bareProc.pid!],
  };
  const url = (port: number, path = '/') => `http://127.0.0.1:${port}${path}`;
  const opts = { seconds: DURATION, connections: CONNECTIONS };

  console.log(`load: wrk -t1 -c${CONNECTIONS} -d${DURATION}s keep-alive, ~100 B response; ${machineLoad()}`);
  // Warm-up (JIT, connection pools), not measured.
  for (const p of [nginxPort, haHttp, ambHttp, barePort])
    await wrk(url(p!), { seconds: 2, connections: CONNECTIONS }, []);

  const direct = await wrk(url(origin!), opts, pids.origin);
  const nginx = await wrk(url(nginxPort!), opts, pids.nginx);
  const ha = await wrk(url(haHttp!), opts, pids.haproxy);
  const amb = await wrk(url(ambHttp!), opts, pids.ambassador);
  const bare = await wrk(url(barePort!), opts, pids.bare);
  bareProc.kill('SIGTERM');

  // Half load: paced wrk (10 connections, fixed delay) at half the ambassador's maximum.
  const rate = Math.max(100, Math.round(amb.rps / 2));
  const paced = {
    seconds: Math.max(3, DURATION / 2),
    connections: 10,
    script: join(dir, 'pace.lua'),
    env: { DELAY_MS: String(Math.max(1, Math.round((10 * 1000) / rate))) },
  };
  const halfDirect = await wrk(url(origin!), paced, pids.origin);
  const halfNginx = await wrk(url(nginxPort!), paced, pids.nginx);
  const halfAmb = await wrk(url(ambHttp!), paced, pids.ambassador);

  // TCP mode, bulk: 16 MiB responses through each L4 proxy.
  const bulkOpts = { seconds: Math.max(3, DURATION / 2), connections: 4 };
  const bulkDirect = await wrk(url(origin!, '/big.bin'), bulkOpts, pids.origin);
  const bulkHa = await wrk(url(haTcp!, '/big.bin'), bulkOpts, pids.haproxy);
  const bulkAmb = await wrk(url(ambTcp!, '/big.bin'), bulkOpts, pids.ambassador);

  // Access log off: what the log costs.
  const ambQuiet = startProcess(
    process.execPath,
    [main],
    ambEnv(join(dir, 'profile.yaml'), profAdmin!, false),
  );
  await waitForPort(profHttp!);
  await wrk(url(profHttp!), { seconds: 2, connections: CONNECTIONS }, []);
  const ambNoLog = await wrk(url(profHttp!), opts, [ambQuiet.pid!]);
  ambQuiet.kill('SIGTERM');
  await new Promise((r) => ambQuiet.once('exit', r));

  // The `node` engine: node:http directly instead of http-proxy-3's web().
  const ambNode = startProcess(
    process.execPath,
    [main],
    ambEnv(join(dir, 'profile.yaml'), profAdmin!, true, 'node'),
  );
  await waitForPort(profHttp!);
  await wrk(url(profHttp!), { seconds: 2, connections: CONNECTIONS }, []);
  const ambNodeEngine = await wrk(url(profHttp!), opts, [ambNode.pid!]);
  ambNode.kill('SIGTERM');
  await new Promise((r) => ambNode.once('exit', r));

  // CPU profile of the unbundled sources (so time is attributed to each library).
  let profile: ReturnType<typeof summarize> | undefined;
  if (PROFILE) {
    const profDir = join(dir, 'prof');
    const prof = startProcess(
      process.execPath,
      ['--cpu-prof', `--cpu-prof-dir=${profDir}`, join(root, 'packages/ambassador/src/main.ts')],
      ambEnv(join(dir, 'profile.yaml'), profAdmin!, true),
    );
    await waitForPort(profHttp!);
    await wrk(url(profHttp!), { seconds: 2, connections: CONNECTIONS }, []);
    await wrk(url(profHttp!), opts, [prof.pid!]);
    prof.kill('SIGTERM');
    await new Promise((r) => prof.once('exit', r));
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (file) profile = summarize(join(profDir, file));
  }

  // Soak: sporadic requests so pooled upstream connections sit idle about as long as the origin
  // keeps them (2 s, shorter than the ambassador's 4 s): no request may fail.
  let soak:
    | {
        seconds: number;
        requests: number;
        errors: number;
        non2xx: number;
        upstream5xx: number;
        retries: number;
      }
    | undefined;
  if (SOAK > 0) {
    const metricsBefore = await scrape(ambAdmin!);
    const s = await wrk(url(ambHttp!), { seconds: SOAK, connections: 64, script: join(dir, 'soak.lua') }, []);
    const metricsAfter = await scrape(ambAdmin!);
    soak = {
      seconds: SOAK,
      requests: s.requests,
      errors: s.errors,
      non2xx: s.non2xx,
      upstream5xx: metricsAfter.fivexx - metricsBefore.fivexx,
      retries: metricsAfter.retries - metricsBefore.retries,
    };
  }

  const rows = [
    ['nginx proxy_pass (keepalive 64)', nginx],
    ['HAProxy 2.6 mode http (http-reuse always)', ha],
    ['ambassador (http-proxy-3, access log on)', amb],
    ['ambassador (access log off)', ambNoLog],
    ['ambassador, AMBASSADOR_HTTP_ENGINE=node (access log on)', ambNodeEngine],
    ['reference: bare node:http proxy, no features (bare-proxy.ts)', bare],
  ] as const;
  const lines: string[] = [];
  lines.push(
    `### HTTP, ~100 B responses (wrk -c${CONNECTIONS}, ${DURATION}s each; direct origin ${round(direct.rps, 0)} req/s)`,
    '',
  );
  lines.push(
    '| proxy | req/s | p99 ms | errors | CPU µs / request | efficiency vs nginx |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const [name, r] of rows)
    lines.push(
      `| ${name} | ${round(r.rps, 0)} | ${round(r.p99Ms, 2)} | ${r.errors + r.non2xx} | ${round(r.cpuUsPerRequest, 1)} | ${round(nginx.cpuUsPerRequest / r.cpuUsPerRequest, 2)}× |`,
    );
  lines.push('', `### Added latency at half load (${rate} req/s paced, 10 connections)`, '');
  lines.push('| path | req/s | p50 ms | p99 ms | added p99 ms |', '| --- | ---: | ---: | ---: | ---: |');
  for (const [name, r] of [
    ['direct to origin', halfDirect],
    ['nginx proxy_pass', halfNginx],
    ['ambassador', halfAmb],
  ] as const)
    lines.push(
      `| ${name} | ${round(r.rps, 0)} | ${round(r.p50Ms, 2)} | ${round(r.p99Ms, 2)} | ${name === 'direct to origin' ? '—' : round(r.p99Ms - halfDirect.p99Ms, 2)} |`,
    );
  lines.push('', '### TCP mode, bulk (16 MiB responses, wrk -c4)', '');
  lines.push('| path | MiB/s | vs HAProxy | proxy CPU ms per GiB |', '| --- | ---: | ---: | ---: |');
  const mib = (r: typeof bulkHa) => r.transferBytesPerSec / 1024 ** 2;
  const perGiB = (r: typeof bulkHa) => (r.cpuMs / (r.transferBytesPerSec * r.seconds)) * 1024 ** 3;
  for (const r of [bulkDirect, bulkHa, bulkAmb])
    if (r.errors + r.non2xx > 0)
      lines.push(`(bulk run had ${r.errors} socket errors and ${r.non2xx} non-2xx answers)`);
  lines.push(`| direct to origin | ${round(mib(bulkDirect), 0)} | — | — |`);
  lines.push(`| HAProxy mode tcp | ${round(mib(bulkHa), 0)} | 1.00× | ${round(perGiB(bulkHa), 0)} |`);
  lines.push(
    `| ambassador tcp | ${round(mib(bulkAmb), 0)} | ${round(mib(bulkAmb) / mib(bulkHa), 2)}× | ${round(perGiB(bulkAmb), 0)} |`,
  );
  if (profile) {
    lines.push(
      '',
      `### Where the ambassador's CPU goes (node --cpu-prof, ${round(profile.totalMs / 1000, 1)} s of samples)`,
      '',
    );
    lines.push('| part | share |', '| --- | ---: |');
    for (const c of profile.byCategory) lines.push(`| ${c.name} | ${c.share}% |`);
    lines.push('', '| function | where | share |', '| --- | --- | ---: |');
    for (const f of profile.topFunctions.slice(0, 12)) lines.push(`| ${f.name} | ${f.where} | ${f.share}% |`);
  }
  if (soak)
    lines.push(
      '',
      `### Soak (${soak.seconds}s, origin keep-alive 2 s < ambassador's upstream idle 4 s)`,
      '',
      '| requests | client errors | non-2xx | 5xx counted by the ambassador | retries |',
      '| ---: | ---: | ---: | ---: | ---: |',
      `| ${soak.requests} | ${soak.errors} | ${soak.non2xx} | ${soak.upstream5xx} | ${soak.retries} |`,
    );
  const goals = [
    `efficiency ≥ 0.3× nginx: ${round(nginx.cpuUsPerRequest / amb.cpuUsPerRequest, 2)}× (${round(amb.cpuUsPerRequest, 0)} µs vs ${round(nginx.cpuUsPerRequest, 0)} µs per request) ${nginx.cpuUsPerRequest / amb.cpuUsPerRequest >= 0.3 ? 'MET' : 'NOT MET'}`,
    `added p99 at half load ≤ 2 ms: ${round(halfAmb.p99Ms - halfDirect.p99Ms, 2)} ms ${halfAmb.p99Ms - halfDirect.p99Ms <= 2 ? 'MET' : 'NOT MET'}`,
    `TCP bulk ≥ 0.8× HAProxy: ${round(mib(bulkAmb) / mib(bulkHa), 2)}× ${mib(bulkAmb) / mib(bulkHa) >= 0.8 ? 'MET' : 'NOT MET'}`,
    ...(soak
      ? [
          `soak with zero errors: ${soak.errors + soak.non2xx} errors ${soak.errors + soak.non2xx === 0 ? 'MET' : 'NOT MET'}`,
        ]
      : []),
  ];
  lines.push('', '### Goals', '', ...goals.map((g) => `- ${g}`));
  const table = lines.join('\n');
  console.log(`\n${table}\n`);
  const stamp = new Date().toISOString();
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(
    join(root, 'bench/results/ambassador.md'),
    `# bench ambassador\n\n${stamp}, \`pnpm bench ambassador${flags.length ? ` ${flags.join(' ')}` : ''}\` on ${machineLoad()} (req/s moves with other load; CPU per request is the steadier one).\n\n${table}\n`,
  );
  writeFileSync(
    join(root, 'bench/results/ambassador.json'),
    `${JSON.stringify({ stamp, args, direct, nginx, haproxy: ha, ambassador: amb, ambassadorNoAccessLog: ambNoLog, ambassadorNodeEngine: ambNodeEngine, bareNodeProxy: bare, halfLoad: { rate, direct: halfDirect, nginx: halfNginx, ambassador: halfAmb }, bulk: { direct: bulkDirect, haproxy: bulkHa, ambassador: bulkAmb }, profile, soak }, null, 2)}\n`,
  );
}

async function scrape(port: number): Promise<{ fivexx: number; retries: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let fivexx = 0;
  let retries = 0;
  for (const line of text.split('\n')) {
    if (/^ambassador_requests_total\{.*code="5\d\d"/.test(line)) fivexx += Number(line.split(' ').pop());
    if (line.startsWith('ambassador_retries_total{')) retries += Number(line.split(' ').pop());
  }
  return { fivexx, retries };
}

try {
  await bench();
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
