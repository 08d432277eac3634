// The adapter beside the real producers from Debian in their stock logging, with no ADAPTER_FORMAT
// (auto): nginx (combined, and the official image's main), apache2 (combined and vhost_combined),
// caddy (its JSON access log) — read from files — and HAProxy (option httplog) and nginx
// (access_log syslog:) sending to the syslog listener. Each gets requests of known methods whose
// statuses the client sees; the adapter's counts per method and code must equal the log's lines
// exactly, and what the client saw. File producers are read by two adapter runs with a positions
// file, stopped in the middle while requests continue: no line is counted twice or lost.
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@multipod/service/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AdapterProcess, builtMain, spawnAdapter, tempDir } from './testing.ts';
import {
  NGINX_MAIN,
  type Producer,
  startApache,
  startBackend,
  startCaddy,
  startHaproxy,
  startNginx,
} from './testing-producers.ts';

type Counts = Map<string, number>;

/** What each round asks; the server decides the status, the client records it. */
const ROUND: [string, string][] = [
  ['GET', '/'],
  ['GET', '/index.html'],
  ['GET', '/missing'],
  ['GET', '/redirect'],
  ['GET', '/teapot'],
  ['GET', '/gone'],
  ['GET', '/forbidden'],
  ['GET', '/error'],
  ['HEAD', '/'],
  ['POST', '/'],
  ['PUT', '/'],
  ['DELETE', '/'],
  ['OPTIONS', '/'],
];

const add = (c: Counts, key: string, n = 1) => c.set(key, (c.get(key) ?? 0) + n);
const sum = (c: Counts) => [...c.values()].reduce((a, b) => a + b, 0);
const sorted = (c: Counts) => Object.fromEntries([...c].filter(([, v]) => v > 0).sort());

/** Sends `rounds` rounds to the server, 4 at a time; counts "METHOD code" as the client saw them. */
async function drive(port: number, rounds: number, seen: Counts, paths = ROUND): Promise<void> {
  const queue = Array.from({ length: rounds }, () => paths).flat();
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const [method, path] = job;
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        redirect: 'manual',
        ...(method === 'POST' || method === 'PUT' ? { body: 'a=1' } : {}),
      });
      await res.arrayBuffer();
      add(seen, `${method} ${res.status}`);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

/** http_requests_total as "METHOD code" → count. */
async function adapterCounts(a: AdapterProcess): Promise<Counts> {
  const c: Counts = new Map();
  for (const [k, v] of await a.scrape()) {
    const m = /^http_requests_total\{method="([A-Z]+)",code="(\d{3})"\}$/.exec(k);
    if (m) add(c, `${m[1]} ${m[2]}`, v);
  }
  return c;
}

/** The log's counts once every file holds its start probe and no later line came in 100 ms. */
async function probeLines(files: string[]): Promise<Counts> {
  let before = -1;
  return waitFor('the start probes in the logs', async () => {
    await new Promise((r) => setTimeout(r, 100));
    const now = files.map((f) => readFileSync(f, 'utf8').split('\n').length - 1);
    const total = now.reduce((a, b) => a + b, 0);
    const settled = now.every((n) => n > 0) && total === before;
    before = total;
    return settled ? logCounts(files) : undefined;
  });
}

/** "METHOD code" of each line, read independently of the adapter (a regex, or JSON for Caddy). */
function logCounts(files: string[]): Counts {
  const c: Counts = new Map();
  for (const file of files)
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line === '') continue;
      if (line.startsWith('{')) {
        const o = JSON.parse(line);
        if (o.request?.method) add(c, `${o.request.method} ${o.status}`);
        continue;
      }
      const m = /"([A-Z]+) [^"]*" (\d{3}) /.exec(line);
      if (!m) throw new Error(`a line the test cannot read: ${line}`);
      add(c, `${m[1]} ${m[2]}`);
    }
  return c;
}

const times = (c: Counts, k: number) => new Map([...c].map(([key, v]) => [key, v * k]));

let main = '';
const tmp = tempDir();
const adapters: AdapterProcess[] = [];
const producers: Producer[] = [];
beforeAll(() => {
  main = builtMain();
  // The servers' workers run unprivileged (nobody, www-data): they must reach the sites inside.
  chmodSync(tmp.dir, 0o755);
});
afterEach(async () => {
  for (const a of adapters.splice(0)) a.child.kill('SIGKILL');
  for (const p of producers.splice(0)) await p.stop();
});
afterAll(() => tmp.remove());

function adapter(env: Record<string, string>): AdapterProcess {
  const a = spawnAdapter(main, { ADAPTER_LOG_LEVEL: 'info', ...env });
  adapters.push(a);
  return a;
}

async function stopGracefully(a: AdapterProcess): Promise<void> {
  a.child.kill('SIGTERM');
  expect(await a.exited).toBe(0);
}

let dirs = 0;
function scenario(): { dir: string; logs: string } {
  const dir = join(tmp.dir, `p${dirs++}`);
  const logs = join(dir, 'logs');
  mkdirSync(logs, { recursive: true });
  return { dir, logs };
}

describe.each([
  {
    name: 'nginx: combined (Debian) and main (the official image)',
    start: (dir: string, logs: string) =>
      startNginx(dir, `${NGINX_MAIN}\n  access_log ${logs}/access.log;\n  access_log ${logs}/main.log main;`),
    files: ['access.log', 'main.log'],
    formats: { 'access.log': 'combined', 'main.log': 'combined' },
  },
  {
    name: 'apache2: combined and vhost_combined',
    start: startApache,
    files: ['access.log', 'other_vhosts_access.log'],
    formats: { 'access.log': 'combined', 'other_vhosts_access.log': 'vhost_combined' },
  },
  {
    name: 'caddy: its JSON access log',
    start: startCaddy,
    files: ['access.log'],
    formats: { 'access.log': 'caddy' },
  },
])('$name, read from files with no setting', ({ start, files, formats }) => {
  it('counts exactly the log lines, across a SIGTERM and a restart with a positions file', async () => {
    const { dir, logs } = scenario();
    const server = await start(dir, logs);
    producers.push(server);
    const paths = files.map((f) => join(logs, f));
    const env = {
      ADAPTER_LOG_PATH: join(logs, '*.log'),
      ADAPTER_POSITIONS: join(dir, 'positions.json'),
      ADAPTER_START: 'beginning',
    };
    const seen: Counts = new Map();
    // The start probes (GET /) are lines too: count the log, not only what is sent below. A
    // server writes a line just after its answer (Apache raced the count here): wait for them.
    const probes = await probeLines(paths);
    const lines = () => sum(logCounts(paths));

    const first = adapter(env);
    await drive(server.port, 3, seen);
    await first.parsed(lines());
    const firstCounts = await adapterCounts(first);
    const firstScrape = await first.scrape();
    for (const [file, format] of Object.entries(formats))
      expect(
        firstScrape.get(`log_adapter_format_info{path="${join(logs, file)}",format="${format}"}`),
        file,
      ).toBe(1);
    await stopGracefully(first);

    await drive(server.port, 2, seen); // while the adapter is stopped
    const second = adapter(env);
    await drive(server.port, 2, seen);
    const total = lines();
    await second.parsed(total - sum(firstCounts));
    const secondScrape = await second.scrape();
    expect(secondScrape.get('log_adapter_lines_total{result="unparsed"}')).toBe(0);

    const counted = await adapterCounts(second);
    for (const [k, v] of firstCounts) add(counted, k, v);
    const logged = logCounts(paths);
    expect(sorted(counted)).toEqual(sorted(logged));
    // Every file holds one line per request sent, and the start probes.
    const expected = times(seen, files.length);
    for (const [k, v] of probes) add(expected, k, v);
    expect(sorted(logged)).toEqual(sorted(expected));
    // The servers answered several statuses, not only 200.
    expect(new Set([...seen.keys()].map((k) => k.split(' ')[1])).size).toBeGreaterThanOrEqual(4);
  });
});

describe('syslog: HAProxy (option httplog) and nginx (access_log syslog:) to one listener', () => {
  it('counts exactly the requests each sent, each program in its own format', async () => {
    const { dir } = scenario();
    const a = adapter({ ADAPTER_SYSLOG_LISTEN: 'udp://127.0.0.1:0' });
    await a.port;
    const url = await waitFor(
      'the syslog listener',
      () => a.logs.find((l) => l.msg === 'listening; tailing the log')?.syslog as string | undefined,
    );
    const syslogPort = Number(new URL(url).port);

    const backend = await startBackend();
    const nginxDir = join(dir, 'nginx');
    const haproxyDir = join(dir, 'haproxy');
    mkdirSync(nginxDir);
    mkdirSync(haproxyDir);
    try {
      const nginx = await startNginx(nginxDir, `access_log syslog:server=127.0.0.1:${syslogPort} combined;`);
      producers.push(nginx);
      const haproxy = await startHaproxy(haproxyDir, backend.port, syslogPort);
      producers.push(haproxy);
      // Wait for the start probes' lines, then count from a known point.
      const before = await waitFor('the probes counted', async () => {
        const m = await a.scrape();
        return m.get('log_adapter_format_info{path="syslog:haproxy",format="haproxy"}') === 1 &&
          m.get('log_adapter_format_info{path="syslog:nginx",format="combined"}') === 1
          ? await adapterCounts(a)
          : undefined;
      });
      const seen: Counts = new Map();
      await drive(nginx.port, 4, seen);
      await drive(haproxy.port, 4, seen, [
        ['GET', '/'],
        ['GET', '/404'],
        ['POST', '/201'],
        ['PUT', '/500'],
        ['DELETE', '/204'],
        ['HEAD', '/'],
        ['GET', '/503'],
      ]);
      await a.parsed(sum(before) + sum(seen));
      const counted = await adapterCounts(a);
      for (const [k, v] of before) add(counted, k, -v);
      expect(sorted(counted)).toEqual(sorted(seen));
      const m = await a.scrape();
      expect(m.get('log_adapter_lines_total{result="unparsed"}')).toBe(0);
      expect(m.get('log_adapter_syslog_drops_total')).toBe(0);
    } finally {
      backend.server.close();
    }
  });
});
