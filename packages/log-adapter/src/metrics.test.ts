import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startAdapter, tempDir } from './testing.ts';

const line = (path: string, method = 'GET', code = 200) =>
  `127.0.0.1 - - [25/Nov/2026:13:55:02 +0000] "${method} ${path} HTTP/1.1" ${code} 10 "-" "curl/8.5.0" 0.004\n`;

describe('/metrics', () => {
  it('serves OpenMetrics by Accept, and Prometheus text keeps the _total names afterwards', async () => {
    const tmp = tempDir();
    const log = join(tmp.dir, 'access.log');
    writeFileSync(log, line('/'));
    const t = await startAdapter({ ADAPTER_LOG_PATH: log, ADAPTER_START: 'beginning' });
    try {
      const om = await fetch(`${t.base}/metrics`, {
        headers: { accept: 'application/openmetrics-text; version=1.0.0' },
      });
      expect(om.headers.get('content-type')).toMatch(/^application\/openmetrics-text/);
      const omText = await om.text();
      expect(omText).toContain('# TYPE http_requests counter\n');
      expect(omText).toContain('http_requests_total{method="GET",code="200"} 1\n');
      expect(omText.endsWith('# EOF\n')).toBe(true);
      const prom = await t.text();
      expect(prom).toContain('# TYPE http_requests_total counter\n');
      expect(prom).toContain('http_requests_total{method="GET",code="200"} 1\n');
    } finally {
      await t.close();
      tmp.remove();
    }
  });

  it('cardinality guard: past ADAPTER_MAX_SERIES new label sets fold into one overflow series, and a counter says so', async () => {
    const tmp = tempDir();
    const log = join(tmp.dir, 'access.log');
    const config = join(tmp.dir, 'adapter.yaml');
    writeFileSync(config, 'metrics:\n  - name: by_agent_total\n    labels: { agent: http_user_agent }\n');
    writeFileSync(log, '');
    const t = await startAdapter({ ADAPTER_LOG_PATH: log, ADAPTER_MAX_SERIES: '4', ADAPTER_CONFIG: config });
    try {
      // Methods junk can't explode: unknown ones are OTHER.
      for (const m of ['GET', 'POST', 'PUT', 'FOO', 'BAR', 'GET']) appendFileSync(log, line('/', m));
      // 7 more distinct user agents for by_agent_total (limit 4).
      for (let i = 0; i < 7; i++)
        appendFileSync(log, `1.1.1.1 - - [x] "GET / HTTP/1.1" 200 1 "-" "agent-${i}" 0.1\n`);
      await t.adapter.poll();
      const m = await t.scrape();
      expect(m.get('http_requests_total{method="GET",code="200"}')).toBe(9);
      expect(m.get('http_requests_total{method="OTHER",code="200"}')).toBe(2);
      expect(m.get('by_agent_total{agent="agent-0"}')).toBe(1);
      // curl/8.5.0 (the first six lines) and agent-0..2 take the 4 series; agent-3..6 fold.
      expect(m.get('by_agent_total{agent="curl/8.5.0"}')).toBe(6);
      expect(m.get('by_agent_total{agent="agent-2"}')).toBe(1);
      expect(m.get('by_agent_total{agent="agent-3"}')).toBeUndefined();
      expect(m.get('by_agent_total{agent="__overflow__"}')).toBe(4);
      expect(m.get('log_adapter_series_overflow_total{metric="by_agent_total"}')).toBe(4);
      expect(m.get('log_adapter_series_overflow_total{metric="http_requests_total"}')).toBeUndefined();
      const series = [...m.keys()].filter((k) => k.startsWith('by_agent_total{'));
      expect(series).toHaveLength(5); // 4 + the overflow series
    } finally {
      await t.close();
      tmp.remove();
    }
  });

  it('series overflow: each observation folded into a metric is counted once for that metric', async () => {
    const tmp = tempDir();
    const log = join(tmp.dir, 'access.log');
    const config = join(tmp.dir, 'adapter.yaml');
    writeFileSync(
      config,
      'metrics:\n  - name: agent_seconds\n    type: histogram\n    value: request_time\n    labels: { agent: http_user_agent }\n',
    );
    writeFileSync(log, '');
    const t = await startAdapter({ ADAPTER_LOG_PATH: log, ADAPTER_MAX_SERIES: '1', ADAPTER_CONFIG: config });
    const timed = (code: number, agent = 'curl/8.5.0') =>
      `127.0.0.1 - - [25/Nov/2026:13:55:02 +0000] "GET / HTTP/1.1" ${code} 10 "-" "${agent}" 0.004\n`;
    try {
      // The first code takes the one series; the next five fold, one observation each.
      for (const code of [200, 201, 202, 203, 204, 205]) appendFileSync(log, timed(code));
      // Three more of a code already folded.
      for (let i = 0; i < 3; i++) appendFileSync(log, timed(204));
      // Two plain combined lines: no time, so no histogram observation to fold.
      for (let i = 0; i < 2; i++)
        appendFileSync(
          log,
          '127.0.0.1 - - [25/Nov/2026:13:55:02 +0000] "GET / HTTP/1.1" 206 10 "-" "curl/8.5.0"\n',
        );
      // Four agents past the first, in the custom histogram.
      for (let i = 0; i < 4; i++) appendFileSync(log, timed(200, `agent-${i}`));
      await t.adapter.poll();
      const m = await t.scrape();
      const folded = (metric: string) => m.get(`log_adapter_series_overflow_total{metric="${metric}"}`);
      expect(m.get('http_requests_total{method="__overflow__",code="__overflow__"}')).toBe(10);
      expect(folded('http_requests_total')).toBe(10);
      expect(folded('http_response_size_bytes_total')).toBe(10);
      expect(m.get('http_request_duration_seconds_count{method="__overflow__",code="__overflow__"}')).toBe(8);
      expect(folded('http_request_duration_seconds')).toBe(8);
      expect(m.get('agent_seconds_count{agent="__overflow__"}')).toBe(4);
      expect(folded('agent_seconds')).toBe(4);
    } finally {
      await t.close();
      tmp.remove();
    }
  });
});
