// Adapter pattern: web writes its access log to a shared emptyDir, log-adapter turns it into
// Prometheus metrics. N requests through the pod become exactly N in http_requests_total.
import { describe, expect, it } from 'vitest';
import { deploy } from '../src/fixture.ts';
import { adapterSettled, eventually, get, get200, metricValue } from '../src/wait.ts';

describe('adapter', () => {
  const pod = deploy('adapter');

  it('becomes Ready; metrics are served by the adapter, not by web', async () => {
    const metrics = await get200(`${pod.current.url('adapter', 9113)}/metrics`);
    expect(metrics).toContain('# TYPE http_requests_total counter');
    // The main container has no /metrics: that is the adapter's job. (And the adapter counts that 404.)
    expect((await get(`${pod.current.url('adapter', 8080)}/metrics`)).status).toBe(404);
    await eventually(
      async () => {
        const text = await get200(`${pod.current.url('adapter', 9113)}/metrics`);
        expect(metricValue(text, 'http_requests_total', { method: 'GET', code: '404' })).toBe(1);
      },
      { timeoutMs: 30_000, what: 'the 404 for /metrics counted' },
    );
  });

  it('N requests give exactly N in http_requests_total, by method and code', async () => {
    const web = pod.current.url('adapter', 8080);
    const metricsUrl = `${pod.current.url('adapter', 9113)}/metrics`;
    // web leaves the kubelet's probes (GET /readyz, /healthz) out of its access log, so every
    // count is exact, GET 200 included: no steady request rate from probes.
    const before = await adapterSettled(metricsUrl);
    const n404 = 23;
    const nHead = 17;
    const nGet = 31;
    for (let i = 0; i < n404; i++) expect((await get(`${web}/missing-${i}.html`)).status).toBe(404);
    for (let i = 0; i < nHead; i++) expect((await get(`${web}/`, { method: 'HEAD' })).status).toBe(200);
    for (let i = 0; i < nGet; i++) expect((await get(`${web}/`)).status).toBe(200);

    const delta = (text: string, labels: Record<string, string>) =>
      metricValue(text, 'http_requests_total', labels) - metricValue(before, 'http_requests_total', labels);
    const after = await eventually(
      async () => {
        const text = await get200(metricsUrl);
        expect(delta(text, { method: 'GET', code: '404' })).toBe(n404);
        expect(delta(text, { method: 'HEAD', code: '200' })).toBe(nHead);
        expect(delta(text, { method: 'GET', code: '200' })).toBe(nGet);
        return text;
      },
      { timeoutMs: 30_000, what: 'the adapter counted every request' },
    );
    // Every line was parsed, none dropped or counted twice.
    const lines = (t: string, result: string) => metricValue(t, 'log_adapter_lines_total', { result });
    expect(lines(after, 'parsed') - lines(before, 'parsed')).toBe(
      metricValue(after, 'http_requests_total') - metricValue(before, 'http_requests_total'),
    );
    expect(
      metricValue(after, 'http_response_size_bytes_total', { method: 'HEAD', code: '200' }),
    ).toBeGreaterThanOrEqual(0);
    expect(after).toMatch(/http_request_duration_seconds_bucket\{[^}]*method="GET"/);
    // Still exactly N a moment later: nothing is counted twice.
    const again = await get200(metricsUrl);
    expect(delta(again, { method: 'GET', code: '404' })).toBe(n404);
    expect(delta(again, { method: 'HEAD', code: '200' })).toBe(nHead);
    expect(delta(again, { method: 'GET', code: '200' })).toBe(nGet);
  });
});
