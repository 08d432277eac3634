// ADAPTER_SYSLOG_LISTEN on a real UDP socket: lines of several programs, each detected apart, no
// log file needed; and the loss UDP allows, counted: with a small receive buffer and the adapter
// stalled, every datagram sent is either counted or in log_adapter_syslog_drops_total.
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { waitFor } from '@multipod/service/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdapter, type TestAdapter } from './testing.ts';

const COMBINED = (path: string, code: number) =>
  `127.0.0.1 - - [30/Nov/2026:05:59:14 +0000] "GET ${path} HTTP/1.1" ${code} 3 "-" "curl/7.88.1"`;
const HTTPLOG = (code: number) =>
  `127.0.0.1:45970 [30/Nov/2026:05:58:57.412] fe be/s1 0/0/0/2/2 ${code} 215 - - ---- 1/1/0/0/0 0/0 "POST /api HTTP/1.1"`;

function send(port: number, datagrams: string[]): Promise<void> {
  const s = createSocket('udp4');
  return new Promise((resolve, reject) => {
    let left = datagrams.length;
    for (const d of datagrams)
      s.send(d, port, '127.0.0.1', (err) => {
        if (err) reject(err);
        if (--left === 0) s.close(() => resolve());
      });
  });
}

const portOf = (t: TestAdapter) => Number(new URL(t.adapter.syslogUrl!).port);

describe('syslog input', () => {
  let t: TestAdapter;
  beforeAll(async () => {
    t = await startAdapter({ ADAPTER_SYSLOG_LISTEN: 'udp://127.0.0.1:0' });
  });
  afterAll(() => t.close());

  it('is ready with no log file (ADAPTER_LOG_PATH defaults to off with a listener)', async () => {
    const res = await fetch(`${t.base}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(`syslog on ${t.adapter.syslogUrl}`);
  });

  it('counts nginx (RFC 3164) and HAProxy (RFC 5424) lines, each program in its own format', async () => {
    await send(portOf(t), [
      `<190>Nov 30 05:59:14 web-0 nginx: ${COMBINED('/', 200)}`,
      `<190>Nov 30 05:59:14 web-0 nginx: ${COMBINED('/missing', 404)}`,
      `<134>1 2026-11-30T05:58:57.412Z lb-1 haproxy 16141 - - ${HTTPLOG(503)}`,
      `<134>Nov 30 05:58:57 haproxy[16141]: ${HTTPLOG(201)}\n`,
      '<190>Nov 30 05:59:14 web-0 nginx: not an access log line',
    ]);
    const m = await waitFor(
      'five datagrams',
      async () => {
        const m = await t.scrape();
        const lines =
          (m.get('log_adapter_lines_total{result="parsed"}') ?? 0) +
          (m.get('log_adapter_lines_total{result="unparsed"}') ?? 0);
        return lines === 5 ? m : undefined;
      },
      { timeoutMs: 5_000 },
    );
    expect(m.get('http_requests_total{method="GET",code="200"}')).toBe(1);
    expect(m.get('http_requests_total{method="GET",code="404"}')).toBe(1);
    expect(m.get('http_requests_total{method="POST",code="503"}')).toBe(1);
    expect(m.get('http_requests_total{method="POST",code="201"}')).toBe(1);
    expect(m.get('log_adapter_lines_total{result="unparsed"}')).toBe(1);
    expect(m.get('log_adapter_format_info{path="syslog:nginx",format="combined"}')).toBe(1);
    expect(m.get('log_adapter_format_info{path="syslog:haproxy",format="haproxy"}')).toBe(1);
    expect(m.get('log_adapter_syslog_drops_total')).toBe(0);
    expect(m.get('log_adapter_syslog_receive_buffer_bytes')).toBeGreaterThan(0);
    const ready = await (await fetch(`${t.base}/readyz`)).text();
    expect(ready).toContain('syslog:nginx (combined)');
    expect(ready).toContain('syslog:haproxy (haproxy)');
  });
});

describe('syslog loss under overload', () => {
  let t: TestAdapter;
  beforeAll(async () => {
    t = await startAdapter({
      ADAPTER_SYSLOG_LISTEN: 'udp://127.0.0.1:0',
      ADAPTER_SYSLOG_RECEIVE_BUFFER: '4Ki',
    });
  });
  afterAll(() => t.close());

  it('what the kernel drops while the adapter is stalled is counted: counted + dropped = sent', async () => {
    const port = portOf(t);
    const n = 3000;
    // spawnSync blocks this process, adapter included, while another process sends: the socket's
    // small buffer overflows and the kernel drops what does not fit.
    const sender = spawnSync(
      process.execPath,
      [
        '-e',
        `const s = require('node:dgram').createSocket('udp4');
         let left = ${n};
         const line = '<190>Nov 30 05:59:14 web-0 nginx: ${COMBINED('/', 200)}';
         for (let i = 0; i < ${n}; i++) s.send(line, ${port}, '127.0.0.1', () => { if (--left === 0) s.close(); });`,
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(sender.status, sender.stderr).toBe(0);
    const m = await waitFor(
      'every datagram accounted for',
      async () => {
        const m = await t.scrape();
        const parsed = m.get('log_adapter_lines_total{result="parsed"}') ?? 0;
        const dropped = m.get('log_adapter_syslog_drops_total') ?? 0;
        return parsed + dropped === n ? m : undefined;
      },
      { timeoutMs: 10_000 },
    );
    expect(m.get('log_adapter_syslog_drops_total')).toBeGreaterThan(0);
    expect(m.get('log_adapter_syslog_receive_buffer_bytes')).toBeLessThan(64 * 1024);
  });
});
