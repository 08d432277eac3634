// The access log line: valid JSON, the same envelope as the component log, strings escaped.
import { PassThrough } from 'node:stream';
import { expect, it } from 'vitest';
import { createAccessLog, formatAccess } from './access-log.ts';

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
  const entry = JSON.parse(chunks.join(''));
  expect(entry).toMatchObject({ listener: 'redis', status: 'ok', bytes: 5, bytesIn: 7 });
  expect(entry).not.toHaveProperty('method');
  expect(Number.isNaN(Date.parse(entry.time))).toBe(false);
});
