// ADAPTER_SERIES_TTL with an injected clock: a label set not seen for the TTL leaves /metrics (default
// and custom metrics alike), one still seen keeps its count, and one that comes back starts again.
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAdapter, type TestAdapter, tempDir } from './testing.ts';

const MIN = 60_000;
const line = (method: string, path: string, code: number) =>
  `127.0.0.1 - - [25/Nov/2026:13:55:02 +0000] "${method} ${path} HTTP/1.1" ${code} 10 "-" "curl/8.5.0" 0.004\n`;

describe('ADAPTER_SERIES_TTL', () => {
  let tmp: ReturnType<typeof tempDir>;
  let log: string;
  let config: string;
  let t: TestAdapter | undefined;
  let now = 0;

  beforeEach(() => {
    tmp = tempDir();
    log = join(tmp.dir, 'access.log');
    config = join(tmp.dir, 'adapter.yaml');
    writeFileSync(log, '');
    writeFileSync(
      config,
      `routes: [/a, /b]
metrics:
  - name: by_route_total
    labels: { route: route }
  - name: route_seconds
    type: histogram
    value: request_time
    labels: { route: route }
    buckets: [0.01]
`,
    );
    now = 1_000_000;
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
    tmp.remove();
  });

  const start = async (env: Record<string, string>) => {
    t = await startAdapter({ ADAPTER_LOG_PATH: log, ADAPTER_CONFIG: config, ...env }, { now: () => now });
    return t;
  };
  const write = async (text: string) => {
    appendFileSync(log, text);
    await t!.adapter.poll();
  };

  it('removes the label sets not seen for the TTL, keeps the others with their counts', async () => {
    await start({ ADAPTER_SERIES_TTL: '10m' });
    await write(line('GET', '/a', 200) + line('POST', '/b', 500));
    let m = await t!.scrape();
    expect(m.get('http_requests_total{method="POST",code="500"}')).toBe(1);
    expect(m.get('by_route_total{route="/b"}')).toBe(1);

    now += 6 * MIN;
    await write(line('GET', '/a', 200));
    now += 5 * MIN; // /b last seen 11 minutes ago, /a 5
    m = await t!.scrape();
    expect(m.get('http_requests_total{method="GET",code="200"}')).toBe(2);
    expect(m.get('by_route_total{route="/a"}')).toBe(2);
    expect(m.get('route_seconds_count{route="/a"}')).toBe(2);
    for (const gone of [
      'http_requests_total{method="POST",code="500"}',
      'http_response_size_bytes_total{method="POST",code="500"}',
      'http_request_duration_seconds_count{method="POST",code="500"}',
      'by_route_total{route="/b"}',
      'route_seconds_count{route="/b"}',
    ])
      expect(m.has(gone), gone).toBe(false);
    expect(m.get('log_adapter_series_expired_total{metric="http_requests_total"}')).toBe(1);
    expect(m.get('log_adapter_series_expired_total{metric="by_route_total"}')).toBe(1);
    // The adapter's own series never expire.
    expect(m.get('log_adapter_lines_total{result="parsed"}')).toBe(3);
  });

  it('a label set that comes back after it expired starts again from zero, and keeps counting', async () => {
    await start({ ADAPTER_SERIES_TTL: '1m' });
    await write(line('POST', '/b', 500));
    await write(line('POST', '/b', 500));
    now += 2 * MIN;
    expect((await t!.scrape()).has('http_requests_total{method="POST",code="500"}')).toBe(false);
    await write(line('POST', '/b', 500));
    await write(line('POST', '/b', 500));
    const m = await t!.scrape();
    expect(m.get('http_requests_total{method="POST",code="500"}')).toBe(2);
    expect(m.get('http_response_size_bytes_total{method="POST",code="500"}')).toBe(20);
    expect(m.get('http_request_duration_seconds_count{method="POST",code="500"}')).toBe(2);
    expect(m.get('by_route_total{route="/b"}')).toBe(2);
  });

  it('frees room under ADAPTER_MAX_SERIES: a new label set gets a series of its own again', async () => {
    await start({ ADAPTER_SERIES_TTL: '1m', ADAPTER_MAX_SERIES: '1' });
    await write(line('GET', '/a', 200) + line('GET', '/b', 200));
    let m = await t!.scrape();
    expect(m.get('by_route_total{route="/a"}')).toBe(1);
    expect(m.get('by_route_total{route="__overflow__"}')).toBe(1);
    now += 2 * MIN;
    await t!.scrape();
    await write(line('GET', '/b', 200));
    m = await t!.scrape();
    expect(m.get('by_route_total{route="/b"}')).toBe(1);
    expect(m.has('by_route_total{route="/a"}')).toBe(false);
    expect(m.has('by_route_total{route="__overflow__"}')).toBe(false);
  });

  it('off by default: nothing expires, however long a label set is quiet', async () => {
    await start({});
    await write(line('POST', '/b', 500));
    now += 365 * 24 * 60 * MIN;
    const m = await t!.scrape();
    expect(m.get('http_requests_total{method="POST",code="500"}')).toBe(1);
    expect(m.get('by_route_total{route="/b"}')).toBe(1);
    expect([...m.keys()].some((k) => k.startsWith('log_adapter_series_expired_total'))).toBe(false);
  });
});
