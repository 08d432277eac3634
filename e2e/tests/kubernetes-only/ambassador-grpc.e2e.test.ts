// manifests/ambassador/outbound-grpc: gRPC through the ambassador, to the pods of a headless
// Service, health-checked with grpc.health.v1. Kind only: the pod's own gRPC readiness probe is the
// client (podman 4.3 runs no gRPC probes) and the backends are Kubernetes' agnhost test image.
import { describe, expect, it } from 'vitest';
import { deploy } from '../../src/fixture.ts';
import { eventually, get200, metricValue } from '../../src/wait.ts';

describe('ambassador-outbound-grpc', () => {
  const pods = deploy('ambassador/outbound-grpc');

  it("the kubelet's gRPC probe reaches a backend through the ambassador; both backends are up", async () => {
    const metricsUrl = `${pods.current.url('ambassador-outbound-grpc', 9901)}/metrics`;
    await eventually(
      async () => {
        const metrics = await get200(metricsUrl);
        expect(metricValue(metrics, 'ambassador_upstream_up')).toBe(2);
        expect(metricValue(metrics, 'ambassador_grpc_requests_total', { grpc_status: '0' })).toBeGreaterThan(
          0,
        );
      },
      { timeoutMs: 90_000, what: 'both backends up and a gRPC call answered OK' },
    );
  });
});
