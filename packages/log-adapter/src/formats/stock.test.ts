// The stock formats detection chooses from. Each line real servers write (testdata/stock-*.log,
// taken from Debian's nginx, apache2, caddy and haproxy, Traefik's documented layout, and the
// ambassador's own access-log writer) must be read by exactly one of them: a line is never counted
// under a guess, whichever format a file was detected as.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Formats, type LineRecord, NOT_A_REQUEST, type Parser, parseFormatSpec } from './index.ts';

const testdata = (name: string) => fileURLToPath(new URL(`../../testdata/${name}`, import.meta.url));
const lines = (name: string) => readFileSync(testdata(name), 'utf8').split('\n').filter(Boolean);
const json = { fields: {}, durationUnit: 's' as const };
const stock = new Formats({ kind: 'auto' }, json).parsers;
const parse = (p: Parser, line: string) => p.parse(Buffer.from(line), 0, Buffer.byteLength(line));
const record = (p: Parser, line: string) => {
  const r = parse(p, line);
  if (r === null || r === NOT_A_REQUEST) return r;
  return {
    method: r.method,
    status: r.status,
    bytes: r.bytes,
    duration: r.duration,
    path: (r as LineRecord).field('path'),
  };
};

const files: [string, string][] = [
  ['stock-nginx-combined.log', 'combined'],
  ['stock-nginx-main.log', 'combined'],
  ['stock-apache-combined.log', 'combined'],
  ['stock-apache-common.log', 'common'],
  ['stock-apache-vhost_combined.log', 'vhost_combined'],
  ['stock-caddy.log', 'caddy'],
  ['stock-traefik.log', 'traefik'],
  ['stock-haproxy.log', 'haproxy'],
  ['stock-ambassador.log', 'ambassador'],
  ['web.log', 'combined'],
];

describe('stock formats', () => {
  it.each(files)('every line of %s is read by one stock format only, named %s', (file, name) => {
    for (const line of lines(file)) {
      const readers = stock.filter((p) => parse(p, line) !== null);
      // web.log holds junk lines on purpose: those none may read.
      if (file === 'web.log' && readers.length === 0) continue;
      expect(
        readers.map((p) => p.name),
        line,
      ).toHaveLength(1);
      parse(readers[0]!, line);
      expect(readers[0]!.name, line).toBe(name);
    }
  });

  it('combined followed by extra fields is combined: nginx main, a request time, Traefik', () => {
    const [combined] = stock;
    const base = '10.0.0.1 - - [25/Nov/2026:13:55:02 +0000] "GET /a?b=1 HTTP/1.1" 200 512 "-" "curl/8.5.0"';
    const expected = { method: 0, status: 200, bytes: 512, path: '/a?b=1' };
    expect(record(combined!, base)).toEqual({ ...expected, duration: Number.NaN });
    expect(record(combined!, `${base} "203.0.113.7, 10.0.0.1"`)).toEqual({
      ...expected,
      duration: Number.NaN,
    });
    expect(record(combined!, `${base} 0.250`)).toEqual({ ...expected, duration: 0.25 });
    expect(record(combined!, `${base} -`)).toEqual({ ...expected, duration: Number.NaN });
    // An integer could be seconds (%T) or microseconds (%D): no time is better than a wrong one.
    expect(record(combined!, `${base} 1234`)).toEqual({ ...expected, duration: Number.NaN });
    expect(record(combined!, `${base} 0.250 "x" 12`)).toEqual({ ...expected, duration: Number.NaN });
    expect(record(combined!, `${base} 7 "api@file" "http://10.0.0.7:8080" 37ms`)).toEqual({
      ...expected,
      duration: 0.037,
    });
    expect(combined!.name).toBe('traefik');
    expect(record(combined!, `${base} 7 - - 0ms`)).toEqual({ ...expected, duration: 0 });
    // Not combined: something glued to the user agent, or a broken quote.
    expect(parse(combined!, `${base}x`)).toBeNull();
    expect(parse(combined!, base.replace('"curl/8.5.0"', '"curl/8.5.0'))).toBeNull();
  });

  it('Traefik fields are named, its duration (ms) is the request time in seconds', () => {
    const p = new Formats(parseFormatSpec('traefik'), json).parsers[0]!;
    const r = parse(p, lines('stock-traefik.log')[1]!) as LineRecord;
    expect([r.field('router_name'), r.field('service_url'), r.field('request_count')]).toEqual([
      'api@file',
      'http://10.0.0.7:8080',
      '2',
    ]);
    expect(r.duration).toBe(0.037);
  });

  it('HAProxy: %Ta in ms as the time, %B as the bytes, captures and IPv6 clients, -1 timers', () => {
    const [first, , , noServer, captured] = lines('stock-haproxy.log');
    const p = stock.find((x) => x.name === 'haproxy')!;
    expect(record(p, first!)).toEqual({ method: 0, status: 200, bytes: 215, duration: 0.002, path: '/' });
    expect(record(p, noServer!)).toEqual({ method: 1, status: 503, bytes: 217, duration: 0, path: '/api' });
    const r = parse(p, captured!) as LineRecord;
    expect([r.field('client_ip'), r.field('backend_name'), r.field('server_name')]).toEqual([
      '[fe80::1]',
      'be',
      's1',
    ]);
    expect([r.duration, r.field('path')]).toEqual([0.018, '/index.html?x=1']);
  });

  it('the ambassador: access lines are requests (an aborted one too), its other lines are not', () => {
    const p = stock.find((x) => x.name === 'ambassador')!;
    const [listening, get, aborted, , tcp] = lines('stock-ambassador.log');
    expect(parse(p, listening!)).toBe(NOT_A_REQUEST);
    expect(parse(p, tcp!)).toBe(NOT_A_REQUEST);
    expect(record(p, get!)).toEqual({
      method: 0,
      status: 200,
      bytes: 512,
      duration: 0.00325,
      path: '/api/users/42',
    });
    expect(record(p, aborted!)).toMatchObject({ method: 1, status: 200, bytes: 100 });
  });

  it('Caddy: the request object, size, duration in seconds; start-up lines are not requests', () => {
    const p = stock.find((x) => x.name === 'caddy')!;
    const all = lines('stock-caddy.log');
    expect(parse(p, all[0]!)).toBe(NOT_A_REQUEST);
    expect(record(p, all[2]!)).toEqual({
      method: 0,
      status: 200,
      bytes: 3,
      duration: 0.004634906,
      path: '/',
    });
    expect((parse(p, all[2]!) as LineRecord).field('http_user_agent')).toBe('curl/7.88.1');
    // A JSON line that is neither Caddy's nor the ambassador's is generic json, read as before.
    const generic = stock.find((x) => x.name === 'json')!;
    expect(record(generic, '{"method":"PUT","path":"/x","status":201,"bytes":5,"request_time":0.5}')).toEqual(
      {
        method: 3,
        status: 201,
        bytes: 5,
        duration: 0.5,
        path: '/x',
      },
    );
    expect(parse(generic, all[2]!)).toBeNull();
  });

  it('web is kept as another name of combined', () => {
    const p = new Formats(parseFormatSpec('web'), json).parsers[0]!;
    expect(record(p, lines('stock-nginx-main.log')[0]!)).toMatchObject({ status: 200, bytes: 3 });
  });
});
