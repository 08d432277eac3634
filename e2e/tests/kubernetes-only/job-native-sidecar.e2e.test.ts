// A Job with a native sidecar completes (manifests/job-native-sidecar, applied with kubectl apply
// -f as the sidecar guide does): content-sync's startup probe holds the main container back until
// the first snapshot is published, the main container reads it and exits 0, the kubelet then stops
// the sidecar, and the Job is Complete. Kind only: podman 4.3 runs neither Jobs nor native sidecars.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForDefaultServiceAccount } from '../../src/kind.ts';
import { manifestsDir } from '../../src/render.ts';

const kubectl = (...args: string[]) =>
  execFileSync('kubectl', args, { encoding: 'utf8', timeout: 180_000, stdio: ['ignore', 'pipe', 'pipe'] });

describe('job-native-sidecar', () => {
  const ns = `e2e-job-native-sidecar-${process.pid}`;

  beforeAll(async () => {
    kubectl('create', 'namespace', ns);
    await waitForDefaultServiceAccount('kubectl', ns);
    kubectl('-n', ns, 'apply', '-f', join(manifestsDir, 'job-native-sidecar/job-native-sidecar.yaml'));
  });
  afterAll(() => {
    kubectl('delete', 'namespace', ns, '--wait=false');
  });

  it('completes: the main container read the published content, then the sidecar was stopped', () => {
    kubectl('-n', ns, 'wait', '--for=condition=complete', 'job/job-native-sidecar', '--timeout=150s');
    const report = kubectl('-n', ns, 'logs', 'job/job-native-sidecar', '-c', 'report');
    expect(report).toContain('data.csv');
    expect(report).toMatch(/3 \/srv\/www\/current\/data\.csv/);
    expect(report).toContain('report done');
    const pod = JSON.parse(
      kubectl('-n', ns, 'get', 'pod', '-l', 'batch.kubernetes.io/job-name=job-native-sidecar', '-o', 'json'),
    ) as {
      items: {
        status: {
          phase: string;
          containerStatuses: { name: string; state: { terminated?: { exitCode: number } } }[];
          initContainerStatuses: { name: string; state: { terminated?: { exitCode: number } } }[];
        };
      }[];
    };
    const status = pod.items[0]!.status;
    expect(status.phase).toBe('Succeeded');
    expect(status.containerStatuses.map((c) => [c.name, c.state.terminated?.exitCode])).toEqual([
      ['report', 0],
    ]);
    // Stopped by the kubelet once the main container had exited: content-sync exits 0 on SIGTERM.
    expect(status.initContainerStatuses.map((c) => [c.name, c.state.terminated?.exitCode])).toEqual([
      ['content-sync', 0],
    ]);
  }, 200_000);
});
