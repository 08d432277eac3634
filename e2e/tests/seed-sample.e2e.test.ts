// The seed's sample pod: nginx + busybox-sidecar. `exec -c` picks the container, the two share
// the network, and with shareProcessNamespace the sidecar sees nginx's processes.
import { describe, expect, it } from 'vitest';
import { deploy } from '../src/fixture.ts';
import { get200 } from '../src/wait.ts';

describe('seed-sample', () => {
  const pod = deploy('seed-sample');

  it('becomes Ready and nginx answers on its port', async () => {
    expect(pod.current.pods).toEqual(['seed-sample']);
    expect(await get200(pod.current.url('seed-sample', 8080))).toContain('Welcome to nginx');
  });

  it('exec -c busybox-sidecar runs in the busybox container, not in nginx', async () => {
    const r = await pod.current.exec('seed-sample', 'busybox-sidecar', ['cat', '/proc/1/cmdline']);
    expect(r.code).toBe(0);
    // Its own PID namespace: PID 1 is the sidecar's own command (sh exec'd its last one, sleep).
    expect(r.stdout.replaceAll('\0', ' ').trim()).toBe('sleep 3600');
    const ps = await pod.current.exec('seed-sample', 'busybox-sidecar', ['ps', '-o', 'pid,args']);
    expect(ps.stdout).not.toContain('nginx');
  });

  it('shares the network: the sidecar reaches nginx on localhost', async () => {
    const r = await pod.current.exec('seed-sample', 'busybox-sidecar', [
      'wget',
      '-qO-',
      'http://127.0.0.1:8080/',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Welcome to nginx');
  });
});

describe('seed-sample-shared-pid', () => {
  const pod = deploy('seed-sample-shared-pid');

  it('the sidecar sees nginx master and worker in its process list', async () => {
    const ps = await pod.current.exec('seed-sample-shared-pid', 'busybox-sidecar', [
      'ps',
      '-o',
      'pid,user,args',
    ]);
    expect(ps.code).toBe(0);
    expect(ps.stdout).toMatch(/nginx: master process/);
    expect(ps.stdout).toMatch(/nginx: worker process/);
    // …and its own shell, in the same namespace.
    expect(ps.stdout).toContain('sleep 3600');
  });

  it('sees nginx by PID but, as another user, cannot signal it', async () => {
    const ps = await pod.current.exec('seed-sample-shared-pid', 'busybox-sidecar', ['ps', '-o', 'pid,args']);
    const master = ps.stdout.split('\n').find((l) => l.includes('nginx: master'));
    const pid = master?.trim().split(/\s+/)[0];
    expect(pid).toMatch(/^\d+$/);
    // Shared namespace: nginx's PID is valid here…
    const cmd = await pod.current.exec('seed-sample-shared-pid', 'busybox-sidecar', [
      'cat',
      `/proc/${pid}/cmdline`,
    ]);
    expect(cmd.stdout).toContain('nginx');
    // …but nginx runs as uid 101 and the sidecar as 65534: the kernel refuses the signal.
    const kill = await pod.current.exec('seed-sample-shared-pid', 'busybox-sidecar', [
      'kill',
      '-0',
      String(pid),
    ]);
    expect(kill.code).not.toBe(0);
    expect(kill.stderr).toMatch(/not permitted/i);
  });
});
