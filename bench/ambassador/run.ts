// `pnpm bench ambassador`: the ambassador beside nginx proxy_pass (upstream keep-alive) and HAProxy,
// in one run, against one nginx origin (`return 200`, ~100 B). Reports req/s, p99 and CPU time per
// proxied request of each proxy process; TLS termination on reused connections and one handshake per
// request, beside nginx and HAProxy with the same certificate; p99 added at half load; TCP-mode bulk throughput against
// HAProxy mode tcp; a CPU profile of the ambassador; and a soak with the origin's keep-alive
// shorter than the proxy's. Each proxy is pinned to one core, wrk and the origin to the other.
// Flags: --duration 6s (each load run), --rounds 3, --soak 60s (0 to skip; 10m for the full soak),
// --connections 50, --no-profile.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { summarize } from '../profile.ts';
import {
  freePort,
  h2load,
  have,
  PINNING,
  processTree,
  startProcess,
  stopAll,
  waitForPort,
  wrk,
} from '../tools.ts';
import {
  ambassadorYaml,
  grpcAmbassadorYaml,
  grpcNginx,
  haproxy,
  originNginx,
  proxyNginx,
  tlsAmbassadorYaml,
  tlsHaproxy,
  tlsNginx,
} from './configs.ts';

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

const missing = ['nginx', 'haproxy', 'wrk', 'h2load'].filter((t) => !have(t));
if (missing.length > 0) {
  console.error(
    `bench ambassador needs ${missing.join(', ')}: run scripts/install-system-deps.sh (Debian: apt-get install -y nginx haproxy wrk nghttp2-client)`,
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

const ROUNDS = Number(flag('rounds', '3'));

/** A proxy measured in the HTTP rounds: how to start it and which processes to charge. */
interface Contender {
  name: string;
  port: number;
  start(): Promise<number[]>;
  stop(): Promise<void>;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function bench(): Promise<void> {
  const ports = await Promise.all(Array.from({ length: 14 }, freePort));
  const [
    origin,
    nginxPort,
    nginxLogPort,
    haHttp,
    haTcp,
    ambHttp,
    ambTcp,
    ambAdmin,
    quietHttp,
    quietTcp,
    quietAdmin,
    profHttp,
    profTcp,
    profAdmin,
  ] = ports;
  const [bareUndici, bareNode] = await Promise.all([freePort(), freePort()]);
  writeFileSync(join(dir, 'origin.conf'), originNginx(dir, origin!, '2s'));
  writeFileSync(join(dir, 'proxy.conf'), proxyNginx(dir, nginxPort!, origin!));
  writeFileSync(join(dir, 'proxy-log.conf'), proxyNginx(dir, nginxLogPort!, origin!, true, 'proxy-log'));
  writeFileSync(join(dir, 'haproxy.cfg'), haproxy(haHttp!, haTcp!, origin!));
  writeFileSync(join(dir, 'ambassador.yaml'), ambassadorYaml(ambHttp!, ambTcp!, origin!));
  writeFileSync(join(dir, 'quiet.yaml'), ambassadorYaml(quietHttp!, quietTcp!, origin!));
  writeFileSync(join(dir, 'profile.yaml'), ambassadorYaml(profHttp!, profTcp!, origin!));

  const originProc = startProcess('nginx', ['-c', join(dir, 'origin.conf'), '-p', dir], {}, 'load');
  await waitForPort(origin!);
  const ambEnv = (config: string, admin: number, accessLog: boolean) => ({
    AMBASSADOR_CONFIG: config,
    AMBASSADOR_ADMIN_PORT: String(admin),
    AMBASSADOR_LOG_LEVEL: 'warn',
    AMBASSADOR_ACCESS_LOG: String(accessLog),
    AMBASSADOR_DRAIN_DELAY: '0ms',
  });
  const processContender = (
    name: string,
    port: number,
    cmd: () => [string, string[], Record<string, string>?],
    tree = false,
  ): Contender => {
    let proc: ReturnType<typeof startProcess> | undefined;
    return {
      name,
      port,
      async start() {
        const [c, a, env] = cmd();
        proc = startProcess(c, a, env ?? {}, 'server');
        await waitForPort(port);
        await sleep(200);
        return tree ? processTree(proc.pid!) : [proc.pid!];
      },
      async stop() {
        if (!proc || proc.exitCode !== null) return;
        const p = proc;
        const exited = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        await exited;
      },
    };
  };
  const contenders: Contender[] = [
    processContender(
      'nginx proxy_pass (keepalive 64), access log off',
      nginxPort!,
      () => ['nginx', ['-c', join(dir, 'proxy.conf'), '-p', dir]],
      true,
    ),
    processContender(
      'nginx proxy_pass, access log on (buffer=4k flush=1s)',
      nginxLogPort!,
      () => ['nginx', ['-c', join(dir, 'proxy-log.conf'), '-p', dir]],
      true,
    ),
    processContender(
      'HAProxy 2.6 mode http (http-reuse always), no log',
      haHttp!,
      () => ['haproxy', ['-f', join(dir, 'haproxy.cfg'), '-db']],
      true,
    ),
    processContender('ambassador, defaults (access log on)', ambHttp!, () => [
      process.execPath,
      [main],
      ambEnv(join(dir, 'ambassador.yaml'), ambAdmin!, true),
    ]),
    processContender('ambassador, access log off', quietHttp!, () => [
      process.execPath,
      [main],
      ambEnv(join(dir, 'quiet.yaml'), quietAdmin!, false),
    ]),
    processContender('floor: bare node:http server + undici Pool, no features', bareUndici, () => [
      process.execPath,
      [join(import.meta.dirname, 'bare-proxy.ts'), 'undici', String(bareUndici), String(origin)],
    ]),
    processContender('floor: bare node:http server + node:http client, no features', bareNode, () => [
      process.execPath,
      [join(import.meta.dirname, 'bare-proxy.ts'), 'node', String(bareNode), String(origin)],
    ]),
  ];
  const url = (port: number, path = '/') => `http://127.0.0.1:${port}${path}`;
  const opts = { seconds: DURATION, connections: CONNECTIONS };

  console.log(
    `load: wrk -t1 -c${CONNECTIONS} -d${DURATION}s keep-alive, ~100 B response, ${ROUNDS} rounds; ${PINNING ? `servers pinned to core ${PINNING.server}, wrk and the origin to core ${PINNING.load}` : 'NOT pinned (one core or no taskset)'}; ${machineLoad()}`,
  );
  // Rounds alternate the order so that a burst of other load does not land on one contender.
  const results = new Map<string, Awaited<ReturnType<typeof wrk>>[]>();
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? [...contenders].reverse() : contenders;
    for (const c of order) {
      const pids = await c.start();
      await wrk(url(c.port), { seconds: 2, connections: CONNECTIONS }, []); // warm-up: JIT, pools
      const r = await wrk(url(c.port), opts, pids);
      results.set(c.name, [...(results.get(c.name) ?? []), r]);
      await c.stop();
    }
  }
  const summary = (name: string) => {
    const rs = results.get(name)!;
    const cpu = rs.map((r) => r.cpuUsPerRequest);
    return {
      name,
      cpuUs: median(cpu),
      cpuMin: Math.min(...cpu),
      cpuMax: Math.max(...cpu),
      rps: median(rs.map((r) => r.rps)),
      p99Ms: median(rs.map((r) => r.p99Ms)),
      errors: rs.reduce((a, r) => a + r.errors + r.non2xx, 0),
      runs: rs,
    };
  };
  const http = contenders.map((c) => summary(c.name));
  const [nginx, nginxLog, , amb, ambNoLog, floorUndici] = http;

  // TLS termination: the same ECDSA P-256 certificate on each, the same origin behind. Reused
  // connections (keep-alive: the cost of encrypting) and one handshake per request
  // (`Connection: close`: the cost of a handshake).
  const tlsFiles = join(root, 'packages/ambassador/testdata/tls');
  const cert = join(tlsFiles, 'site-a.pem');
  const key = join(tlsFiles, 'site-a.key');
  const combined = join(dir, 'site-a-combined.pem');
  writeFileSync(combined, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'));
  const [tlsNginxPort, tlsHaPort, tlsAmbPort, tlsAmbAdmin] = await Promise.all(
    Array.from({ length: 4 }, freePort),
  );
  writeFileSync(join(dir, 'tls-nginx.conf'), tlsNginx(dir, tlsNginxPort!, origin!, cert, key));
  writeFileSync(join(dir, 'tls-haproxy.cfg'), tlsHaproxy(tlsHaPort!, origin!, combined));
  writeFileSync(join(dir, 'tls-ambassador.yaml'), tlsAmbassadorYaml(tlsAmbPort!, origin!, cert, key));
  const tlsContenders: Contender[] = [
    processContender(
      'nginx (ssl, proxy_pass keepalive)',
      tlsNginxPort!,
      () => ['nginx', ['-c', join(dir, 'tls-nginx.conf'), '-p', dir]],
      true,
    ),
    processContender(
      'HAProxy 2.6 (bind … ssl crt)',
      tlsHaPort!,
      () => ['haproxy', ['-f', join(dir, 'tls-haproxy.cfg'), '-db']],
      true,
    ),
    processContender('ambassador (tls:, access log on)', tlsAmbPort!, () => [
      process.execPath,
      [main],
      ambEnv(join(dir, 'tls-ambassador.yaml'), tlsAmbAdmin!, true),
    ]),
  ];
  const tlsResults = new Map<string, Awaited<ReturnType<typeof wrk>>[]>();
  for (const mode of ['reused', 'handshake'] as const)
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? [...tlsContenders].reverse() : tlsContenders;
      for (const c of order) {
        const pids = await c.start();
        const tlsUrl = `https://127.0.0.1:${c.port}/`;
        const headers = mode === 'handshake' ? ['Connection: close'] : [];
        await wrk(tlsUrl, { seconds: 2, connections: CONNECTIONS, headers }, []);
        const r = await wrk(tlsUrl, { ...opts, headers }, pids);
        tlsResults.set(`${mode}|${c.name}`, [...(tlsResults.get(`${mode}|${c.name}`) ?? []), r]);
        await c.stop();
      }
    }
  const tlsSummary = (key: string) => {
    const rs = tlsResults.get(key)!;
    const cpu = rs.map((r) => r.cpuUsPerRequest);
    return {
      key,
      cpuUs: median(cpu),
      cpuMin: Math.min(...cpu),
      cpuMax: Math.max(...cpu),
      rps: median(rs.map((r) => r.rps)),
      errors: rs.reduce((a, r) => a + r.errors + r.non2xx, 0),
    };
  };
  const tls = [...tlsResults.keys()].map(tlsSummary);

  // gRPC unary calls: nginx grpc_pass and the ambassador (both logging, h2c both sides) in front of
  // one grpc-js origin; h2load sends the same call (10 clients × 10 streams).
  const [grpcOrigin, grpcNginxPort, grpcAmbPort, grpcAmbAdmin] = await Promise.all(
    Array.from({ length: 4 }, freePort),
  );
  writeFileSync(join(dir, 'grpc-nginx.conf'), grpcNginx(dir, grpcNginxPort!, grpcOrigin!));
  writeFileSync(join(dir, 'grpc-ambassador.yaml'), grpcAmbassadorYaml(grpcAmbPort!, grpcOrigin!));
  const msg = Buffer.from([0x0a, 0x05, ...Buffer.from('hello'), 0x10, 0x01]);
  const frame = Buffer.alloc(5);
  frame.writeUInt32BE(msg.length, 1);
  writeFileSync(join(dir, 'grpc-call.bin'), Buffer.concat([frame, msg]));
  startProcess(
    process.execPath,
    [join(import.meta.dirname, 'grpc-origin.ts'), String(grpcOrigin)],
    {},
    'load',
  );
  await waitForPort(grpcOrigin!);
  const grpcContenders: Contender[] = [
    processContender(
      'nginx grpc_pass (access log on)',
      grpcNginxPort!,
      () => ['nginx', ['-c', join(dir, 'grpc-nginx.conf'), '-p', dir]],
      true,
    ),
    processContender('ambassador h2c → h2c (defaults, access log on)', grpcAmbPort!, () => [
      process.execPath,
      [main],
      ambEnv(join(dir, 'grpc-ambassador.yaml'), grpcAmbAdmin!, true),
    ]),
  ];
  const grpcOpts = {
    seconds: DURATION,
    clients: 10,
    streams: 10,
    data: join(dir, 'grpc-call.bin'),
    headers: ['content-type: application/grpc', 'te: trailers'],
  };
  const grpcResults = new Map<string, Awaited<ReturnType<typeof h2load>>[]>();
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? [...grpcContenders].reverse() : grpcContenders;
    for (const c of order) {
      const pids = await c.start();
      const callUrl = `http://127.0.0.1:${c.port}/multipod.test.Echo/Unary`;
      await h2load(callUrl, { ...grpcOpts, seconds: 2 }, []);
      const r = await h2load(callUrl, grpcOpts, pids);
      grpcResults.set(c.name, [...(grpcResults.get(c.name) ?? []), r]);
      await c.stop();
    }
  }
  const grpcRows = grpcContenders.map((c) => {
    const rs = grpcResults.get(c.name)!;
    const cpu = rs.map((r) => r.cpuUsPerRequest);
    return {
      name: c.name,
      cpuUs: median(cpu),
      cpuMin: Math.min(...cpu),
      cpuMax: Math.max(...cpu),
      rps: median(rs.map((r) => r.rps)),
      failed: rs.reduce((a, r) => a + r.failed, 0),
    };
  });
  const [grpcNginxRow, grpcAmbRow] = grpcRows;

  // The rest runs against long-lived processes, pinned the same way.
  const nginxProc = startProcess('nginx', ['-c', join(dir, 'proxy.conf'), '-p', dir], {}, 'server');
  const haProc = startProcess('haproxy', ['-f', join(dir, 'haproxy.cfg'), '-db'], {}, 'server');
  const ambProc = startProcess(
    process.execPath,
    [main],
    ambEnv(join(dir, 'ambassador.yaml'), ambAdmin!, true),
    'server',
  );
  await Promise.all([nginxPort, haHttp, haTcp, ambHttp, ambTcp].map((p) => waitForPort(p!)));
  await sleep(300);
  const pids = {
    origin: processTree(originProc.pid!),
    nginx: processTree(nginxProc.pid!),
    haproxy: processTree(haProc.pid!),
    ambassador: [ambProc.pid!],
  };
  await wrk(url(ambHttp!), { seconds: 2, connections: CONNECTIONS }, []);
  const ambMax = await wrk(url(ambHttp!), opts, pids.ambassador);

  // Half load: paced wrk (10 connections, fixed delay) at half the ambassador's maximum.
  const rate = Math.max(100, Math.round(ambMax.rps / 2));
  const paced = {
    seconds: Math.max(3, DURATION / 2),
    connections: 10,
    script: join(dir, 'pace.lua'),
    env: { DELAY_MS: String(Math.max(1, Math.round((10 * 1000) / rate))) },
  };
  const halfDirect = await wrk(url(origin!), paced, pids.origin);
  const halfNginx = await wrk(url(nginxPort!), paced, pids.nginx);
  const halfAmb = await wrk(url(ambHttp!), paced, pids.ambassador);
  // The same paced load through the bare undici proxy: the tail Node itself adds, for scale.
  const floor = contenders.find((c) => c.port === bareUndici)!;
  const floorPids = await floor.start();
  await wrk(url(bareUndici), { seconds: 1, connections: CONNECTIONS }, []);
  const halfFloor = await wrk(url(bareUndici), paced, floorPids);
  await floor.stop();

  // TCP mode, bulk: 16 MiB responses through each L4 proxy.
  const bulkOpts = { seconds: Math.max(3, DURATION / 2), connections: 4 };
  const bulkDirect = await wrk(url(origin!, '/big.bin'), bulkOpts, pids.origin);
  const bulkHa = await wrk(url(haTcp!, '/big.bin'), bulkOpts, pids.haproxy);
  const bulkAmb = await wrk(url(ambTcp!, '/big.bin'), bulkOpts, pids.ambassador);

  // CPU profile of the unbundled sources (so time is attributed to each library).
  let profile: ReturnType<typeof summarize> | undefined;
  if (PROFILE) {
    const profDir = join(dir, 'prof');
    const prof = startProcess(
      process.execPath,
      ['--cpu-prof', `--cpu-prof-dir=${profDir}`, join(root, 'packages/ambassador/src/main.ts')],
      ambEnv(join(dir, 'profile.yaml'), profAdmin!, true),
      'server',
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

  const lines: string[] = [];
  lines.push(
    `### HTTP, ~100 B responses (wrk -c${CONNECTIONS}, ${DURATION}s, ${ROUNDS} alternating rounds; ${PINNING ? 'each proxy pinned to one core, wrk and the origin on the other' : 'not pinned'})`,
    '',
    "CPU per request is the proxy's own user + system time over the run, divided by the requests: the median of the rounds, with the lowest and highest.",
    '',
    '| proxy | req/s | p99 ms | errors | CPU µs / request (min–max) | efficiency vs nginx, same log setting |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const r of http) {
    // Compared with nginx logging the same way: the ambassador's defaults log every request.
    const ref = r.name.includes('access log on') || r.name.includes('defaults') ? nginxLog : nginx;
    lines.push(
      `| ${r.name} | ${round(r.rps, 0)} | ${round(r.p99Ms, 2)} | ${r.errors} | ${round(r.cpuUs, 1)} (${round(r.cpuMin, 1)}–${round(r.cpuMax, 1)}) | ${round(ref!.cpuUs / r.cpuUs, 2)}× |`,
    );
  }
  lines.push(
    '',
    `### TLS termination (the same ECDSA P-256 certificate; wrk -c${CONNECTIONS}, ${DURATION}s, ${ROUNDS} rounds)`,
    '',
    '| connections | proxy | req/s | errors | CPU µs / request (min–max) | vs nginx |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
  );
  for (const t of tls) {
    const [mode, name] = t.key.split('|') as [string, string];
    const ref = tls.find((x) => x.key === `${mode}|${tlsContenders[0]!.name}`)!;
    lines.push(
      `| ${mode === 'reused' ? 'reused (keep-alive)' : 'one handshake per request'} | ${name} | ${round(t.rps, 0)} | ${t.errors} | ${round(t.cpuUs, 1)} (${round(t.cpuMin, 1)}–${round(t.cpuMax, 1)}) | ${round(ref.cpuUs / t.cpuUs, 2)}× |`,
    );
  }
  lines.push(
    '',
    `### gRPC unary calls (h2load -c10 -m10, ${DURATION}s, ${ROUNDS} rounds; one grpc-js origin)`,
    '',
    '| proxy | calls/s | failed | CPU µs / call (min–max) | vs nginx |',
    '| --- | ---: | ---: | ---: | ---: |',
  );
  for (const r of grpcRows)
    lines.push(
      `| ${r.name} | ${round(r.rps, 0)} | ${r.failed} | ${round(r.cpuUs, 1)} (${round(r.cpuMin, 1)}–${round(r.cpuMax, 1)}) | ${round(grpcNginxRow!.cpuUs / r.cpuUs, 2)}× |`,
    );
  lines.push('', `### Added latency at half load (${rate} req/s paced, 10 connections)`, '');
  lines.push('| path | req/s | p50 ms | p99 ms | added p99 ms |', '| --- | ---: | ---: | ---: | ---: |');
  for (const [name, r] of [
    ['direct to origin', halfDirect],
    ['nginx proxy_pass', halfNginx],
    ['ambassador', halfAmb],
    ['floor: bare node:http server + undici Pool', halfFloor],
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
  const efficiency = nginxLog!.cpuUs / amb!.cpuUs;
  const overFloor = amb!.cpuUs / floorUndici!.cpuUs;
  const added = halfAmb.p99Ms - halfDirect.p99Ms;
  const goals = [
    `CPU per request at the defaults ≥ 0.3× nginx (both logging), or within 1.2× of the Node floor measured in the same run: ${round(efficiency, 2)}× nginx (${round(amb!.cpuUs, 1)} µs vs ${round(nginxLog!.cpuUs, 1)} µs), ${round(overFloor, 2)}× the floor (${round(floorUndici!.cpuUs, 1)} µs) ${efficiency >= 0.3 || overFloor <= 1.2 ? 'MET' : 'NOT MET'}`,
    `added p99 at half load ≤ 1 ms: ${round(added, 2)} ms ${added <= 1 ? 'MET' : 'NOT MET'} (the bare Node floor adds ${round(halfFloor.p99Ms - halfDirect.p99Ms, 2)} ms)`,
    `gRPC CPU per call ≥ 0.3× nginx grpc_pass: ${round(grpcNginxRow!.cpuUs / grpcAmbRow!.cpuUs, 2)}× (${round(grpcAmbRow!.cpuUs, 1)} µs vs ${round(grpcNginxRow!.cpuUs, 1)} µs) ${grpcNginxRow!.cpuUs / grpcAmbRow!.cpuUs >= 0.3 ? 'MET' : 'NOT MET'}`,
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
    `${JSON.stringify({ stamp, args, pinned: PINNING ?? null, rounds: ROUNDS, http, ambassador: amb, ambassadorNoAccessLog: ambNoLog, nginx, nginxAccessLog: nginxLog, tls, grpc: grpcRows, halfLoad: { rate, direct: halfDirect, nginx: halfNginx, ambassador: halfAmb, floor: halfFloor }, bulk: { direct: bulkDirect, haproxy: bulkHa, ambassador: bulkAmb }, profile, soak }, null, 2)}\n`,
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
