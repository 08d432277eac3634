import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('../testdata/fixture-main.ts', import.meta.url));
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [fixture, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });

describe('runMain', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill('SIGKILL');
    child = undefined;
  });

  it('exits 2 with one line naming a bad setting', () => {
    const r = run([], { FIXTURE_PORT: 'eighty' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      'multipod-fixture: invalid setting --port / FIXTURE_PORT: "eighty" is not an integer from 0 to 65535\n',
    );
    expect(r.stdout).toBe('');
  });

  it('prints --help with every setting, including the common ones', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const env of ['FIXTURE_PORT', 'FIXTURE_DELAY', 'FIXTURE_LOG_LEVEL', 'FIXTURE_SHUTDOWN_TIMEOUT'])
      expect(r.stdout).toContain(env);
  });

  async function start(env: Record<string, string>, until = 'listening') {
    child = spawn(process.execPath, [fixture], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: Record<string, unknown>[] = [];
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf('\n');
      while (nl !== -1) {
        lines.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
      }
    });
    while (!lines.some((l) => l.msg === until)) await new Promise((r) => setTimeout(r, 20));
    return lines;
  }

  it('logs JSON lines and exits 0 on SIGTERM after stop()', async () => {
    const lines = await start({ FIXTURE_DELAY: '200' });
    expect(lines[1]).toMatchObject({ level: 'info', component: 'fixture', msg: 'listening' });
    expect(typeof lines[1]!.time).toBe('string');
    child!.kill('SIGTERM');
    const [code] = await once(child!, 'exit');
    expect(code).toBe(0);
    expect(lines.map((l) => l.msg)).toEqual(['starting', 'listening', 'shutting down', 'closed', 'stopped']);
  });

  it('exits 0 on a SIGTERM that arrives while the component is still starting, once it has stopped it', async () => {
    const lines = await start({ FIXTURE_START_DELAY: '400' }, 'starting');
    child!.kill('SIGTERM');
    const [code, signal] = await once(child!, 'exit');
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(lines.map((l) => l.msg)).toEqual(['starting', 'shutting down', 'listening', 'closed', 'stopped']);
  });

  it('a one-shot run: exits 0 when it is done, and 0 on a SIGTERM before that', async () => {
    const r = run([], { FIXTURE_ONCE: 'ok', FIXTURE_START_DELAY: '10' });
    expect(r.status).toBe(0);
    const lines = await start({ FIXTURE_ONCE: 'ok', FIXTURE_START_DELAY: '30000' }, 'starting');
    child!.kill('SIGTERM');
    const [code, signal] = await once(child!, 'exit');
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(lines.map((l) => l.msg)).toEqual(['starting', 'shutting down', 'stopped']);
  });

  it('a one-shot run that fails: exits 1 with one fatal line, its fields, no stack', () => {
    const r = run([], { FIXTURE_ONCE: 'fail' });
    expect(r.status).toBe(1);
    const fatal = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .at(-1);
    expect(fatal).toMatchObject({ level: 'fatal', msg: 'one-shot failed', why: 'asked' });
    expect(fatal.err).toBeUndefined();
  });

  it('exits 1 when stop() outlives the shutdown deadline', async () => {
    const lines = await start({ FIXTURE_DELAY: '5000', FIXTURE_SHUTDOWN_TIMEOUT: '300ms' });
    child!.kill('SIGTERM');
    const [code] = await once(child!, 'exit');
    expect(code).toBe(1);
    expect(lines.at(-1)).toMatchObject({
      level: 'error',
      msg: 'shutdown deadline passed; exiting with work unfinished',
    });
  });

  it('calls reload on SIGHUP', async () => {
    const lines = await start({});
    child!.kill('SIGHUP');
    while (!lines.some((l) => l.msg === 'reloaded')) await new Promise((r) => setTimeout(r, 20));
    expect(lines.map((l) => l.msg)).toContain('SIGHUP: reloading');
  });
});
