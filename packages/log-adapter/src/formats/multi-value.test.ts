// nginx's multi-value upstream variables, every form nginx writes (seen from a real nginx: two
// servers of a group, an internal redirect to another group, a server that gave no value).
import { describe, expect, it } from 'vitest';
import { lastValue, sumValues } from './multi-value.ts';
import { nginxFormatParser } from './nginx-format.ts';
import type { LineRecord } from './record.ts';

describe('times are summed: the time the request spent on upstreams', () => {
  it.each([
    ['0.010', 0.01],
    ['0.010, 0.250', 0.26],
    ['0.010 : 0.250', 0.26],
    ['0.050, 0.100 : 0.200', 0.35],
    ['-, 0.002', 0.002],
    ['- : 0.002', 0.002],
    ['0.010, -', 0.01],
    ['12, 30', 42], // $upstream_response_length, $upstream_bytes_received: bytes
  ])('%j → %d', (text, sum) => {
    expect(sumValues(text)).toBeCloseTo(sum, 9);
  });

  it.each([['-'], ['- : -'], ['-, -'], [''], ['0.01, x'], ['0.01,, 0.02'], ['-1'], [undefined]])(
    '%j has no value',
    (text) => {
      expect(sumValues(text)).toBeNaN();
    },
  );
});

describe('a status or an address is the last value: the upstream that answered', () => {
  it.each([
    ['200', '200'],
    ['502, 200', '200'],
    ['502 : 200', '200'],
    ['502, 504 : 200', '200'],
    ['200, -', undefined],
    ['-', undefined],
    ['10.0.0.1:80, 10.0.0.2:80', '10.0.0.2:80'],
    ['10.0.0.1:80 : unix:/run/app.sock', 'unix:/run/app.sock'],
    ['unix:/run/app.sock', 'unix:/run/app.sock'],
    ['backend', 'backend'],
  ])('%j → %j', (text, last) => {
    expect(lastValue(text)).toBe(last);
  });
});

describe('an nginx log_format reads every multi-value form in place', () => {
  const p = nginxFormatParser(
    '$remote_addr "$request" $status urt=$upstream_response_time uct=$upstream_connect_time us=$upstream_status ua=$upstream_addr ul=$upstream_response_length end',
  );
  const read = (line: string) => p.parse(Buffer.from(line), 0, Buffer.byteLength(line)) as LineRecord | null;

  it.each([
    ['0.010', '0.001', '200', '10.0.0.1:80', '5', 0.01],
    ['0.010, 0.250', '-, 0.002', '502, 200', '10.0.0.1:80, 10.0.0.2:80', '0, 5', 0.26],
    [
      '0.050, 0.100 : 0.200',
      '- : 0.002',
      '502, 504 : 200',
      '10.0.0.1:80, 10.0.0.2:80 : unix:/a.sock',
      '0, 0 : 5',
      0.35,
    ],
    ['-', '-', '-', 'backend', '-', Number.NaN],
  ])('urt=%j uct=%j us=%j ua=%j ul=%j', (urt, uct, us, ua, ul, duration) => {
    const r = read(`1.2.3.4 "GET / HTTP/1.1" 200 urt=${urt} uct=${uct} us=${us} ua=${ua} ul=${ul} end`);
    expect(r).not.toBeNull();
    expect(r!.field('upstream_status')).toBe(us);
    expect(r!.field('upstream_addr')).toBe(ua);
    // Without $request_time the histogram observes the upstream time, summed.
    if (Number.isNaN(duration)) expect(r!.duration).toBeNaN();
    else expect(r!.duration).toBeCloseTo(duration, 9);
  });

  it('refuses a list that is not one (a separator nginx never writes)', () => {
    expect(read('1.2.3.4 "GET / HTTP/1.1" 200 urt=0.1;0.2 uct=- us=200 ua=a ul=1 end')).toBeNull();
    expect(read('1.2.3.4 "GET / HTTP/1.1" 200 urt=0.1 uct=- us=200,200 ua=a ul=1 end')).toBeNull();
  });
});
