// The process: dist/main.js (bundled, as the image runs it) exits 2 on a bad setting, lists every
// setting in --help, flushes the access log on SIGTERM and exits 0, reopens it on SIGHUP.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { webSettings } from './config.ts';
import { http, Site, until, webConfig } from './testing.ts';

const pkg = join(import.meta.dirname, '..');
const mainJs = join(pkg, 'dist/main.js');
const site = new Site();
let child: ChildProcess | undefined;

/** dist/main.js is missing or older than a source file (`pnpm test` builds first; a bare vitest run may not). */
function stale(): boolean {
  if (!existsSync(mainJs)) return true;
  const built = statSync(mainJs).mtimeMs;
  return readdirSync(import.meta.dirname).some((f) => statSync(join(import.meta.dirname, f)).mtimeMs > built);
}

beforeAll(() => {
  // The bundle exactly as `pnpm build` makes it, so the test runs what the image ships. Rebuilt only
  // when stale: other packages' tests spawn the same file and must never see it half-written.
  if (stale()) {
    const b = spawnSync(process.execPath, [join(pkg, '../../scripts/bundle.ts')], {
      cwd: pkg,
      encoding: 'utf8',
    });
    if (b.status !== 0) throw new Error(`bundle failed: ${b.stderr}`);
  }
  site.publish({ 'index.html': 'home', 'a.txt': 'aaa' });
}, 60_000);
afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
});
afterAll(() => site.remove());

const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [mainJs, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });

async function start(env: Record<string, string>) {
  const c = spawn(process.execPath, [mainJs], {
    env: { ...process.env, WEB_PORT: '0', WEB_HOST: '127.0.0.1', WEB_ROOT: site.current, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = c;
  let out = '';
  c.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exit = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
  await until(() => /"port":\d+/.test(out) || c.exitCode !== null, 15_000, 'web to listen');
  const port = Number(/"port":(\d+)/.exec(out)?.[1]);
  return { c, port, exit, out: () => out };
}

describe('dist/main.js', () => {
  it('exits 2 with one line naming a bad setting', () => {
    const r = run([], { WEB_PORT: 'eighty' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      'multipod-web: invalid setting --port / WEB_PORT: "eighty" is not an integer from 0 to 65535\n',
    );
    const size = run(['--access-log-max-size', 'lots']);
    expect(size.status).toBe(2);
    expect(size.stderr).toContain('--access-log-max-size / WEB_ACCESS_LOG_MAX_SIZE: "lots" is not a size');
    expect(run([], { WEB_DOTFILES: 'maybe' }).status).toBe(2);
  });

  it('exits 2 naming the host setting for an address it cannot listen on', () => {
    const malformed = run([], { WEB_HOST: 'not a host', WEB_PORT: '0' });
    expect(malformed.status).toBe(2);
    expect(malformed.stderr).toBe(
      'multipod-web: invalid setting --host / WEB_HOST: "not a host" is not an IP address or a host name (0.0.0.0, ::, 127.0.0.1, localhost)\n',
    );
    // Well formed, but no interface of this machine has it (TEST-NET-1, RFC 5737).
    const foreign = run([], { WEB_HOST: '192.0.2.1', WEB_PORT: '0' });
    expect(foreign.status).toBe(2);
    expect(foreign.stderr).toMatch(
      /^multipod-web: invalid setting --host \/ WEB_HOST: "192\.0\.2\.1" is not an address of this machine/,
    );
    expect(foreign.stdout + foreign.stderr).not.toContain('WEB_PORT');
  });

  it('refuses a duration a timer cannot hold, naming the setting and the maximum', () => {
    const r = run([], { WEB_IDLE_TIMEOUT: '600h' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      'multipod-web: invalid setting --idle-timeout / WEB_IDLE_TIMEOUT: "600h" is not a duration like 500ms, 10s or 2m, from 100ms to 596h31m23s647ms\n',
    );
    // Cache-Control ages are no timers: a year is fine, past RFC 9111's 2^31 s is not.
    expect(webConfig({ WEB_IMMUTABLE_MAX_AGE: '17520h' }).immutableMaxAge).toBe(17520 * 3_600_000);
    const age = run([], { WEB_MAX_AGE: '600000h' });
    expect(age.status).toBe(2);
    expect(age.stderr).toContain('at most 596523h');
  });

  it('lists every setting in --help', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const s of Object.values(webSettings)) expect(r.stdout).toContain(s.env);
  });

  it('flushes every access log line on SIGTERM and exits 0', async () => {
    const log = join(site.dir, 'term.log');
    const { c, port, exit } = await start({ WEB_ACCESS_LOG: log });
    const requests = 200;
    await Promise.all(Array.from({ length: requests }, (_, i) => http(port, `/a.txt?i=${i}`)));
    c.kill('SIGTERM');
    expect(await exit).toBe(0);
    const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    expect(lines).toHaveLength(requests);
  });

  it('reopens the access log on SIGHUP', async () => {
    const log = join(site.dir, 'hup.log');
    const { c, port, exit } = await start({ WEB_ACCESS_LOG: log });
    await http(port, '/a.txt?one');
    await until(() => existsSync(log) && readFileSync(log, 'utf8').includes('?one'), 5000, 'first line');
    renameSync(log, `${log}.1`);
    c.kill('SIGHUP');
    await until(() => existsSync(log), 5000, 'reopened file');
    await http(port, '/a.txt?two');
    c.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(readFileSync(log, 'utf8')).toContain('?two');
    expect(readFileSync(`${log}.1`, 'utf8')).not.toContain('?two');
  });

  it('writes JSON logs and the access log to stdout with -', async () => {
    const { c, port, exit, out } = await start({ WEB_ACCESS_LOG: '-' });
    await http(port, '/a.txt?stdout');
    await until(() => out().includes('?stdout'), 5000, 'access line on stdout');
    c.kill('SIGTERM');
    expect(await exit).toBe(0);
    const first = JSON.parse(out().split('\n')[0]!);
    expect(first).toMatchObject({ level: 'info', component: 'web', msg: 'listening' });
  });
});
