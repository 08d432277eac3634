import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from './cli.ts';
import { planPod, portsFor, portsInUse } from './pod.ts';

const root = '/repo';

describe('parseArgs', () => {
  it('defaults to the full pod on the pod’s own ports with examples/site', () => {
    expect(parseArgs([], {}, root)).toEqual({
      pattern: 'full',
      portBase: undefined,
      source: '/repo/examples/site',
      help: false,
    });
  });

  it('takes a pattern, ignores the `--` pnpm passes, and reads both flag forms', () => {
    expect(parseArgs(['--', 'sidecar', '--port-base', '20000'], {}, root)).toMatchObject({
      pattern: 'sidecar',
      portBase: 20000,
    });
    expect(parseArgs(['adapter', '--port-base=21000', '--source=site'], {}, root)).toMatchObject({
      pattern: 'adapter',
      portBase: 21000,
      source: '/repo/site',
    });
  });

  it('reads DEMO_PORT_BASE and DEMO_SOURCE, flags winning', () => {
    const env = { DEMO_PORT_BASE: '30000', DEMO_SOURCE: '/content' };
    expect(parseArgs([], env, root)).toMatchObject({ portBase: 30000, source: '/content' });
    expect(parseArgs(['--port-base', '31000'], env, root)).toMatchObject({ portBase: 31000 });
  });

  it('rejects what it does not know, naming it', () => {
    expect(() => parseArgs(['mesh'], {}, root)).toThrow(
      /unknown pattern "mesh"; choose one of full, sidecar/,
    );
    expect(() => parseArgs(['--port', '1'], {}, root)).toThrow(UsageError);
    expect(() => parseArgs(['--port-base', '80'], {}, root)).toThrow(/--port-base .*"80".*1024 to 65530/);
    expect(() => parseArgs(['--port-base'], {}, root)).toThrow(/needs a value/);
    expect(() => parseArgs(['full', 'sidecar'], {}, root)).toThrow(/one pattern at a time/);
  });
});

describe('planPod', () => {
  const dirs = { source: '/src', contentDir: '/v/content', logDir: '/v/logs' };

  it('wires the full pod as the manifest does: shared volumes, localhost ports', () => {
    const plan = planPod({ pattern: 'full', ports: portsFor(undefined), ...dirs });
    const env = Object.fromEntries(plan.containers.map((c) => [c.name, c.env]));
    expect(env['content-sync']).toMatchObject({ SYNC_SOURCE: '/src', SYNC_TARGET: '/v/content' });
    expect(env['web']).toMatchObject({
      WEB_ROOT: '/v/content/current',
      WEB_ACCESS_LOG: '/v/logs/access.log',
    });
    expect(env['log-adapter']).toMatchObject({ ADAPTER_LOG_PATH: '/v/logs/access.log' });
    expect(env['ambassador']).toMatchObject({ AMBASSADOR_UPSTREAMS: 'http://127.0.0.1:8080' });
    expect(plan.siteUrl).toBe('http://127.0.0.1:8000/');
    expect(portsInUse(plan).map((p) => p.port)).toEqual([8081, 8080, 8000, 9901, 9113, 8090]);
  });

  it('runs one pattern alone; without the sidecar web serves the source itself', () => {
    const adapter = planPod({ pattern: 'adapter', ports: portsFor(20000), ...dirs });
    expect(adapter.containers.map((c) => c.name)).toEqual(['web', 'log-adapter']);
    expect(adapter.containers[0]!.env['WEB_ROOT']).toBe('/src');
    expect(adapter.siteUrl).toBe('http://127.0.0.1:20001/');
    const amb = planPod({ pattern: 'ambassador', ports: portsFor(20000), ...dirs });
    expect(amb.containers.map((c) => c.name)).toEqual(['web', 'ambassador']);
    expect(amb.containers[1]!.env['AMBASSADOR_UPSTREAMS']).toBe('http://127.0.0.1:20001');
    expect(portsInUse(amb).map((p) => p.port)).toEqual([20001, 20000, 20003, 20005]);
  });
});
