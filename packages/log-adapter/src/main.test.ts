// The process: dist/main.js as a child, for what only a process shows: exit codes, one-line
// errors, SIGTERM writing the positions file, and a real permission-denied (capabilities dropped).
import { type ChildProcess, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@multipod/service/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { builtMain, parseExposition, spawnAdapter, tempDir } from './testing.ts';

let main = '';
const line = (path: string, code = 200) =>
  `127.0.0.1 - - [25/Nov/2026:13:55:02 +0000] "GET ${path} HTTP/1.1" ${code} 10 "-" "curl/8.5.0" 0.004\n`;

const run = (env: Record<string, string>, args: string[] = []) =>
  spawnSync(process.execPath, [main, ...args], {
    env: { ...process.env, ADAPTER_PORT: '0', ADAPTER_HOST: '127.0.0.1', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });

const until = <T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 15_000) =>
  waitFor(what, fn, { timeoutMs: ms, intervalMs: 25 });

describe('multipod-log-adapter process', () => {
  const tmp = tempDir();
  const children: ChildProcess[] = [];

  beforeAll(() => {
    // Tests run the bundle users run, built from the sources under test.
    main = builtMain();
  });
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
  });
  afterAll(() => tmp.remove());

  function start(env: Record<string, string>, prefix: string[] = []) {
    const p = spawnAdapter(main, env, prefix);
    children.push(p.child);
    return p;
  }

  it('--help lists every setting', () => {
    const r = run({}, ['--help']);
    expect(r.status).toBe(0);
    for (const v of [
      'ADAPTER_PORT',
      'ADAPTER_LOG_PATH',
      'ADAPTER_START',
      'ADAPTER_POSITIONS',
      'ADAPTER_FORMAT',
    ])
      expect(r.stdout).toContain(v);
    for (const v of ['ADAPTER_CONFIG', 'ADAPTER_BUCKETS', 'ADAPTER_MAX_LINE', 'ADAPTER_MAX_SERIES'])
      expect(r.stdout).toContain(v);
  });

  it('exits 2 with one line naming a bad setting', () => {
    const r = run({ ADAPTER_START: 'middle' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      'multipod-log-adapter: invalid setting --start / ADAPTER_START: "middle" is not one of end, beginning\n',
    );
  });

  it.each([
    ['ADAPTER_FORMAT', { ADAPTER_FORMAT: '$remote_addr "$request"' }, 'the format has no $status'],
    ['ADAPTER_FORMAT', { ADAPTER_FORMAT: 'apache' }, 'not a format name'],
    ['ADAPTER_BUCKETS', { ADAPTER_BUCKETS: '0.1,0.05' }, 'bounds must increase (0.1 then 0.05)'],
    [
      'ADAPTER_MAX_LINE',
      { ADAPTER_MAX_LINE: '0' },
      '"0" is not a size like 512Ki, 10Mi, 1G or a number of bytes, from 1 to 64Mi',
    ],
    [
      'ADAPTER_POSITIONS',
      { ADAPTER_POSITIONS: '/nonexistent-dir/positions.json' },
      '/nonexistent-dir/positions.json cannot be written (ENOENT); give a path on a writable volume',
    ],
    [
      'ADAPTER_SERIES_TTL',
      { ADAPTER_SERIES_TTL: '10' },
      'a duration like 500ms, 10s or 2m, from 1s to 596h31m23s647ms',
    ],
    [
      'ADAPTER_SYSLOG_LISTEN',
      { ADAPTER_SYSLOG_LISTEN: 'tcp://127.0.0.1:5140' },
      'tcp is not supported (nginx sends syslog over UDP only); give udp://<address>:<port>',
    ],
    ['ADAPTER_SYSLOG_LISTEN', { ADAPTER_SYSLOG_LISTEN: 'udp://127.0.0.1' }, 'give udp://<address>:<port>'],
    [
      'ADAPTER_LOG_PATH',
      { ADAPTER_LOG_PATH: 'off' },
      'off, and no --syslog-listen / ADAPTER_SYSLOG_LISTEN: there would be nothing to read',
    ],
  ])('exits 2 with one line naming %s', (name, env, detail) => {
    const r = run(env);
    expect(r.status).toBe(2);
    const out = r.stderr.trim().split('\n');
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^multipod-log-adapter: /);
    expect(out[0]).toContain(name);
    expect(out[0]).toContain(detail);
  });

  it('exits 2 on a bad ADAPTER_CONFIG, naming the field', () => {
    const config = join(tmp.dir, 'bad.yaml');
    writeFileSync(config, 'metrics:\n  - name: by_path_total\n    labels: { path: path }\n');
    const r = run({ ADAPTER_CONFIG: config });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      `invalid --config / ADAPTER_CONFIG: ${config}: metrics[0].labels.path: raw "path" labels`,
    );
  });

  it('positions file in a read-only directory: exits 2 with one line naming ADAPTER_POSITIONS', () => {
    const dir = join(tmp.dir, 'read-only');
    mkdirSync(dir, { mode: 0o555 });
    const [cmd, ...args] = [...unprivileged(), process.execPath, main];
    const r = spawnSync(cmd!, args, {
      env: { ...process.env, ADAPTER_PORT: '0', ADAPTER_POSITIONS: join(dir, 'positions.json') },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      `multipod-log-adapter: invalid setting --positions / ADAPTER_POSITIONS: ${dir}/positions.json cannot be written (EACCES); give a path on a writable volume, e.g. an emptyDir of its own\n`,
    );
  });

  it('SIGTERM: reads what is left, writes the positions file, exits 0', async () => {
    const log = join(tmp.dir, 'term.log');
    const positions = join(tmp.dir, 'positions.json');
    writeFileSync(log, line('/a') + line('/b'));
    const p = start({ ADAPTER_LOG_PATH: log, ADAPTER_START: 'beginning', ADAPTER_POSITIONS: positions });
    const port = await p.port;
    await until('two lines counted', async () => {
      const m = parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      return m.get('log_adapter_lines_total{result="parsed"}') === 2 || undefined;
    });
    writeFileSync(log, line('/c') + line('/d').slice(0, 10), { flag: 'a' });
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    const saved = JSON.parse(readFileSync(positions, 'utf8'));
    const st = statSync(log);
    expect(saved.files[log]).toMatchObject({ dev: st.dev, ino: st.ino, offset: st.size - 10 });
    expect(p.logs.map((l) => l.msg)).toContain('stopped');
  });

  const lines = (n: number, from: number) =>
    Array.from({ length: n }, (_, i) => line(`/l/${from + i}`)).join('');

  it('SIGTERM, then a restart: every line counted exactly once across the two runs', async () => {
    const log = join(tmp.dir, 'term-restart.log');
    const positions = join(tmp.dir, 'term-restart.json');
    const env = { ADAPTER_LOG_PATH: log, ADAPTER_POSITIONS: positions, ADAPTER_POSITIONS_INTERVAL: '1h' };
    writeFileSync(log, lines(10, 0));
    const first = start({ ...env, ADAPTER_START: 'beginning' });
    await first.parsed(10);
    writeFileSync(log, lines(20, 10) + line('/partial').slice(0, 15), { flag: 'a' });
    await first.parsed(30);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    writeFileSync(log, line('/partial').slice(15) + lines(5, 30), { flag: 'a' });
    const second = start(env);
    expect(await second.parsed(6)).toBe(6);
  });

  it('kill -9 mid-stream: only the lines read since the last positions write are counted again', async () => {
    const log = join(tmp.dir, 'kill.log');
    const positions = join(tmp.dir, 'kill.json');
    // An interval longer than the test: the only write is the one at start-up, after the first read.
    const env = { ADAPTER_LOG_PATH: log, ADAPTER_POSITIONS: positions, ADAPTER_POSITIONS_INTERVAL: '1h' };
    writeFileSync(log, lines(10, 0));
    const first = start({ ...env, ADAPTER_START: 'end' });
    await first.port;
    const atStart = statSync(log).size;
    await until('the positions written at start-up', () => {
      const saved = existsSync(positions) ? JSON.parse(readFileSync(positions, 'utf8')) : undefined;
      return saved?.files?.[log]?.offset === atStart || undefined;
    });
    writeFileSync(log, lines(20, 10), { flag: 'a' });
    await first.parsed(20);
    first.child.kill('SIGKILL');
    await first.exited;
    writeFileSync(log, lines(5, 30), { flag: 'a' }); // written while it was down
    const second = start(env);
    // The 20 read since the last positions write again, and the 5 new ones; nothing lost.
    expect(await second.parsed(25)).toBe(25);
  });

  it('permission denied for real: 503 with the reason, then reads once allowed', async () => {
    const uid = process.getuid?.() ?? 0;
    const log = join(tmp.dir, 'denied.log');
    writeFileSync(log, line('/x'));
    chmodSync(log, 0o000);
    const p = start({ ADAPTER_LOG_PATH: log, ADAPTER_START: 'beginning' }, unprivileged());
    const port = await p.port;
    const body = await until('a 503 with the reason', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      return res.status === 503 ? res.text() : undefined;
    });
    expect(body).toBe(`not ok: cannot read ${log}: permission denied (the adapter runs as uid ${uid})\n`);
    chmodSync(log, 0o644);
    await until('the line counted', async () => {
      const m = parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      return m.get('http_requests_total{method="GET",code="200"}') === 1 || undefined;
    });
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
  });
});

/** A prefix that makes file modes bind: a non-root user is denied by them alone; root must also lose CAP_DAC_OVERRIDE. */
function unprivileged(): string[] {
  if ((process.getuid?.() ?? 0) !== 0) return [];
  const setpriv = spawnSync('setpriv', ['--version']);
  if (setpriv.status !== 0) throw new Error('setpriv (util-linux) is needed for this test as root');
  return ['setpriv', '--bounding-set', '-dac_override,-dac_read_search', '--'];
}
