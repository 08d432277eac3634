import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { histogramQuantile, parseMetrics, select, sum, sumBy } from './metrics.ts';
import { adapterView, ambassadorView } from './probe.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, '..', 'testdata', name), 'utf8');

describe('parseMetrics', () => {
  const samples = parseMetrics(fixture('adapter.prom'));

  it('reads samples with their labels and skips comments', () => {
    expect(select(samples, 'http_requests_total', { code: '404' })).toEqual([
      { name: 'http_requests_total', labels: { method: 'GET', code: '404' }, value: 1 },
    ]);
    expect(samples.some((s) => s.name.startsWith('#'))).toBe(false);
  });

  it('unescapes label values and reads exponent notation', () => {
    const [weird] = select(samples, 'weird_metric');
    expect(weird?.labels).toEqual({ path: '/a"b,c', x: 'y' });
    expect(weird?.value).toBe(1500);
  });

  it('sums over label sets and by one label', () => {
    expect(sum(samples, 'http_requests_total')).toBe(10);
    expect(sum(samples, 'no_such_metric')).toBeUndefined();
    expect(sumBy(samples, 'http_requests_total', 'code')).toEqual({ '200': 9, '404': 1 });
  });

  it('interpolates a quantile inside the bucket, like histogram_quantile', () => {
    // 8 observations: 5 ≤ 5ms, 7 ≤ 10ms, 8 ≤ 100ms. Median rank 4 falls in the first bucket.
    expect(histogramQuantile(samples, 'http_request_duration_seconds', 0.5)).toBeCloseTo(0.004, 6);
    // rank 7.6 falls in (10ms, 100ms]: 0.01 + 0.09 * (0.6 / 1)
    expect(histogramQuantile(samples, 'http_request_duration_seconds', 0.95)).toBeCloseTo(0.064, 6);
    expect(histogramQuantile([], 'http_request_duration_seconds', 0.5)).toBeUndefined();
  });
});

describe('views of component metrics', () => {
  it('summarises the adapter: requests, codes, latency, lines', () => {
    const v = adapterView(parseMetrics(fixture('adapter.prom')));
    expect(v.requests).toBe(10);
    expect(v.byCode).toEqual({ '200': 9, '404': 1 });
    expect(v.bytes).toBe(4096);
    expect(v.latency.avg).toBeCloseTo(0.052 / 8, 6);
    expect(v.lines).toEqual({ parsed: 10, unparsed: 1 });
  });

  it('lists the ambassador upstreams with their health', () => {
    const v = ambassadorView(parseMetrics(fixture('ambassador.prom')));
    expect(v.upstreams).toEqual([{ name: 'http://127.0.0.1:8080', up: false }]);
    expect(v.requests).toBe(15);
    expect(v.byCode).toEqual({ '200': 12, '503': 3 });
  });
});
