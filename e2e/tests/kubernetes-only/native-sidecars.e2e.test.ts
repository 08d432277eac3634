// Native sidecars (initContainers with restartPolicy: Always): Kubernetes ≥ 1.29 only, so this
// file runs with the kind driver; podman 4.3 would run them as plain init containers that must
// exit (see vitest.config.ts). Shows the start order (content-sync's startup probe holds web back
// until the first snapshot), a restart, and the stop order.
import { describe, expect, it } from 'vitest';
import { deploy } from '../../src/fixture.ts';
import { eventually, get, get200, metricValue } from '../../src/wait.ts';

describe('full-native-sidecars', () => {
  const pod = deploy('full-native-sidecars');

  it('becomes Ready with web as the only app container and content from its first request', async () => {
    const front = pod.current.url('full', 8000);
    expect(await get200(`${front}/version.txt`)).toBe('version 1\n');
    // log-adapter started before web, so it saw the log from its first line.
    for (let i = 0; i < 4; i++) expect((await get(`${front}/missing-native-${i}`)).status).toBe(404);
    await eventually(
      async () => {
        const metrics = await get200(`${pod.current.url('full', 9113)}/metrics`);
        expect(metricValue(metrics, 'http_requests_total', { method: 'GET', code: '404' })).toBe(4);
      },
      { timeoutMs: 30_000, what: 'adapter counted 4 404s' },
    );
  });

  it('web starts only once content-sync has published (its startup probe): content from the start', async () => {
    // Started is not ready: without content-sync's startup probe the kubelet starts web as soon as
    // content-sync's process runs, and web's first words are "waiting for content".
    const listening = (await pod.current.logs('full', 'web'))
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; ready?: string })
      .find((l) => l.msg === 'listening');
    expect(listening?.ready).toMatch(/^serving \/srv\/www\/\.snapshots\//);
  });

  it('a killed native sidecar is restarted while web keeps serving', async () => {
    const before = await pod.current.restartCount('full', 'content-sync');
    await pod.current.killContainer('full', 'content-sync');
    await eventually(
      async () => expect(await pod.current.restartCount('full', 'content-sync')).toBeGreaterThan(before),
      {
        timeoutMs: 60_000,
        what: 'content-sync restarted',
      },
    );
    await pod.current.waitReady('full');
    expect(await get200(`${pod.current.url('full', 8000)}/version.txt`)).toBe('version 1\n');
  });

  it('deleted: web stops first, then the sidecars in reverse start order; each exits 0', async () => {
    // The kubelet's order with native sidecars: main containers, then sidecars one at a time in
    // the reverse of their start order, which is their order in initContainers as the
    // native-sidecars component leaves it: content-sync, log-adapter, ambassador.
    const { exitCodes, order } = await pod.current.stopPod('full', 30);
    expect(exitCodes).toEqual({ web: 0, 'content-sync': 0, ambassador: 0, 'log-adapter': 0 });
    expect(order).toEqual(['web', 'ambassador', 'log-adapter', 'content-sync']);
  });
});
