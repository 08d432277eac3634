import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { busyPorts, isPortFree } from './ports.ts';
import { Supervisor } from './supervisor.ts';
import { isAlive, waitFor } from './testing.ts';

const FAKE = join(import.meta.dirname, '..', 'testdata', 'fake-container.mjs');

describe('Supervisor (real child processes)', () => {
  let sup: Supervisor | undefined;
  const lines: string[] = [];
  const events: string[] = [];
  afterEach(async () => {
    await sup?.stopAll();
    sup = undefined;
    lines.length = 0;
    events.length = 0;
  });

  function start(env: Record<string, string>, graceMs = 5000) {
    sup = new Supervisor(
      [{ name: 'fake', command: process.execPath, args: [FAKE], env: { FAKE_STDERR: 'to stderr', ...env } }],
      { onLine: (n, l) => lines.push(`${n}: ${l}`), onEvent: (e) => events.push(e), graceMs, backoffMs: 100 },
    );
    sup.startAll();
    return sup.get('fake')!;
  }

  it('forwards stdout and stderr lines with the container name', async () => {
    start({});
    await waitFor('both lines', () => lines.length >= 2);
    expect(lines).toContain('fake: to stderr');
    expect(lines.some((l) => l.startsWith('fake: {"level":"info","msg":"listening"'))).toBe(true);
  });

  it('restarts a container that crashes, counting restarts, as the kubelet does', async () => {
    const c = start({});
    const first = await waitFor('a pid', () => c.status().state === 'running' && c.status().pid);
    c.kill();
    const second = await waitFor('a new pid', () => {
      const s = c.status();
      return s.state === 'running' && s.pid !== first && s.pid;
    });
    expect(isAlive(first)).toBe(false);
    expect(isAlive(second)).toBe(true);
    expect(c.status()).toMatchObject({ restarts: 1, lastExit: { signal: 'SIGKILL' } });
    expect(events.join('\n')).toMatch(/fake exited \(SIGKILL\); restarting in 0.1s \(restart #1\)/);
  });

  it('stop() sends SIGTERM, waits for the exit, and keeps it down', async () => {
    const c = start({});
    const pid = await waitFor('a pid', () => c.status().pid);
    await waitFor('listening', () => lines.length > 0);
    await c.stop();
    expect(isAlive(pid)).toBe(false);
    expect(c.status()).toMatchObject({ state: 'stopped', restarts: 0, lastExit: { code: 0 } });
    await new Promise((r) => setTimeout(r, 300));
    expect(c.status().pid).toBeUndefined();
    c.start();
    await waitFor('running again', () => c.status().state === 'running');
  });

  it('SIGKILLs a container that ignores SIGTERM once the grace period ends', async () => {
    const c = start({ FAKE_IGNORE_TERM: '1' }, 500);
    const pid = await waitFor('listening', () => lines.length > 0 && c.status().pid);
    const t0 = Date.now();
    await c.stop();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    expect(isAlive(pid)).toBe(false);
    expect(c.status().lastExit?.signal).toBe('SIGKILL');
  });
});

describe('port check', () => {
  it('names a port something already listens on, and passes free ones', async () => {
    const lines: string[] = [];
    const holder = new Supervisor(
      [{ name: 'holder', command: process.execPath, args: [FAKE], env: { FAKE_PORT: '0' } }],
      { onLine: (_, l) => lines.push(l), onEvent: () => {} },
    );
    holder.startAll();
    try {
      const line = await waitFor('listening', () => lines[0]);
      const port = (JSON.parse(line) as { port: number }).port;
      expect(await isPortFree(port)).toBe(false);
      const msgs = await busyPorts([
        { port, what: 'web (content)' },
        { port: port === 65535 ? 65534 : port + 1, what: 'other' },
      ]);
      const free = await isPortFree(port === 65535 ? 65534 : port + 1);
      expect(msgs).toEqual([
        `port ${port} (web (content)) is already in use`,
        ...(free ? [] : [expect.any(String)]),
      ]);
    } finally {
      await holder.stopAll();
    }
  });
});
