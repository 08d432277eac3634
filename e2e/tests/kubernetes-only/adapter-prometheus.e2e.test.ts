// The adapter pod with the Prometheus that discovers it by its annotations (manifests/
// adapter-prometheus): a real Prometheus, pulled by the cluster, lists pods through its
// ServiceAccount and Role and scrapes the adapter. Kind only: podman runs neither ServiceAccounts
// nor the Kubernetes API that discovery needs, and this machine cannot pull the image.
import { describe, expect, it } from 'vitest';
import { deploy } from '../../src/fixture.ts';
import { eventually, get, get200 } from '../../src/wait.ts';

interface Vector {
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

describe('adapter-prometheus', () => {
  const pods = deploy('adapter-prometheus');
  const query = async (promql: string) =>
    JSON.parse(
      await get200(
        `${pods.current.url('prometheus', 9090)}/api/v1/query?query=${encodeURIComponent(promql)}`,
      ),
    ) as Vector;

  it('Prometheus finds the adapter by its annotations and scrapes it (its Role lets it list pods)', async () => {
    // A request the probes never make, so the series exists with a known value.
    for (let i = 0; i < 3; i++)
      expect((await get(`${pods.current.url('adapter', 8080)}/missing-${i}`)).status).toBe(404);
    await eventually(
      async () => {
        const up = await query('up{pod="adapter"}');
        expect(up.data.result.map((r) => r.value[1])).toEqual(['1']);
        const counted = await query('sum(http_requests_total{pod="adapter",code="404"})');
        expect(Number(counted.data.result[0]?.value[1])).toBeGreaterThanOrEqual(3);
      },
      // scrape_interval is 15 s; discovery and the first scrape come first.
      { timeoutMs: 120_000, intervalMs: 2_000, what: 'Prometheus scraping the adapter' },
    );
  }, 180_000);
});
