// The access log line: valid JSON, the same envelope as the component log, strings escaped.
import { PassThrough } from 'node:stream';
import { expect, it } from 'vitest';
import { createAccessLog, fdSink, formatAccess } from './access-log.ts';

it('writes one JSON object per line with every field', () => {
  const line = formatAccess(
    {
      listener: 'web',
      route: '*/',
      method: 'GET',
      path: '/a "quoted"\npath',
      upstream: 'http://127.0.0.1:8080',
      status: 200,
      bytes: 12,
      durationMs: 1.5,
      retries: 1,
      error: 'x',
    },
    '2026-11-25T14:00:00.000Z',
  );
  expect(line.endsWith('}\n')).toBe(true);
  expect(JSON.parse(line)).toEqual({
    level: 'info',
    time: '2026-11-25T14:00:00.000Z',
    component: 'ambassador',
    log: 'access',
    listener: 'web',
    route: '*/',
    method: 'GET',
    path: '/a "quoted"\npath',
    upstream: 'http://127.0.0.1:8080',
    status: 200,
    bytes: 12,
    durationMs: 1.5,
    retries: 1,
    error: 'x',
  });
});

it('leaves out what a TCP connection does not have, and writes to the destination', () => {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (c) => chunks.push(String(c)));
  const log = createAccessLog(out);
  log.write({
    listener: 'redis',
    upstream: 'tcp://r:6379',
    status: 'ok',
    bytes: 5,
    bytesIn: 7,
    durationMs: 3,
    retries: 0,
  });
  log.flush(); // shutdown: what waits in the batch is written at once
  const entry = JSON.parse(chunks.join(''));
  expect(entry).toMatchObject({ listener: 'redis', status: 'ok', bytes: 5, bytesIn: 7 });
  expect(entry).not.toHaveProperty('method');
  expect(Number.isNaN(Date.parse(entry.time))).toBe(false);
});

it('writes every byte through a pipe whose reader starts late (full pipe: waits, retries)', async () => {
  // A real pipe, non-blocking, whose reader starts late: the first writes fill it and get EAGAIN.
  const { spawn } = await import('node:child_process');
  const reader = spawn('sh', ['-c', 'sleep 0.5; wc -c'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const fd = (reader.stdin as unknown as { _handle: { fd: number } })._handle.fd;
  let out = '';
  reader.stdout.on('data', (d) => (out += d));
  const log = createAccessLog(fdSink(fd), 50);
  let expected = 0;
  const entry = (i: number) => ({
    listener: 'web',
    method: 'GET',
    path: `/p/${i}`,
    upstream: 'u',
    status: 200,
    bytes: i,
    durationMs: 1,
    retries: 0,
  });
  for (let i = 0; i < 20_000; i++) {
    log.write(entry(i));
    expected += Buffer.byteLength(formatAccess(entry(i), '2026-11-30T00:00:00.000Z'));
  }
  // Everything written once the async writes have drained, then the rest at "shutdown".
  await new Promise((r) => setTimeout(r, 1500));
  log.flush();
  reader.stdin.end();
  await new Promise((r) => reader.on('exit', r));
  expect(Number(out.trim())).toBe(expected);
  expect(log.dropped).toBe(0);
});

it('batches: nothing written before 16 KiB or the flush time, then one write', async () => {
  const { PassThrough } = await import('node:stream');
  const out = new PassThrough();
  const writes: number[] = [];
  out.on('data', (c: Buffer) => writes.push(c.length));
  const log = createAccessLog(out, 200);
  const e = { listener: 'l', upstream: 'u', status: 200, bytes: 1, durationMs: 1, retries: 0 };
  log.write(e);
  await new Promise((r) => setTimeout(r, 50));
  expect(writes).toEqual([]);
  await new Promise((r) => setTimeout(r, 300));
  expect(writes).toHaveLength(1);
  for (let i = 0; i < 200; i++) log.write(e);
  await new Promise((r) => setTimeout(r, 20));
  expect(writes.length).toBeGreaterThanOrEqual(2); // 200 lines are over 16 KiB: written at once
});
