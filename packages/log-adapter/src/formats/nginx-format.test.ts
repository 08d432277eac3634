import { describe, expect, it } from 'vitest';
import { nginxFormatParser } from './nginx-format.ts';
import type { LineRecord, Parser } from './record.ts';

const parse = (p: Parser, line: string) =>
  p.parse(Buffer.from(line), 0, Buffer.byteLength(line)) as LineRecord | null;

describe('nginx log_format strings', () => {
  it('compiles the combined format as nginx.conf writes it and reads a line', () => {
    const p = nginxFormatParser(
      `log_format combined '$remote_addr - $remote_user [$time_local] '\n                    '"$request" $status $body_bytes_sent '\n                    '"$http_referer" "$http_user_agent"';`,
    );
    const r = parse(p, '1.2.3.4 - - [25/Nov/2026:10:00:00 +0000] "POST /x?y=1 HTTP/1.1" 201 17 "-" "curl/8"');
    expect(r).not.toBeNull();
    expect([r!.method, r!.status, r!.bytes]).toEqual([1, 201, 17]);
    expect(r!.field('path')).toBe('/x?y=1');
    expect(r!.field('http_user_agent')).toBe('curl/8');
    expect(p.hasDuration).toBe(false);
  });

  it('takes a bare format with braced variables, $request_method/$request_uri, and lists of upstream times', () => {
    const braced = (name: string) => `$\u007b${name}}`;
    const p = nginxFormatParser(
      `${braced('request_method')} $request_uri $status ${braced('request_time')}s up=$upstream_response_time`,
    );
    const r = parse(p, 'GET /a 200 0.5s up=0.1, 0.2');
    expect([r!.method, r!.status, r!.duration, r!.field('path')]).toEqual([0, 200, 0.5, '/a']);
    expect(p.hasDuration).toBe(true);
    expect(parse(p, 'GET /a 2000 0.5s up=-')).toBeNull();
  });

  it.each([
    ['$remote_addr $request', 'the format has no $status'],
    ['$status $body_bytes_sent', 'no $request or $request_method'],
    ['$request$status', 'touch; nothing tells where one ends'],
  ])('refuses %j: %s', (format, message) => {
    expect(() => nginxFormatParser(format)).toThrow(message);
  });
});
