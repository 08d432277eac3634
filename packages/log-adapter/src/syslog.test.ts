// Syslog framing: the program and the message of a datagram, as nginx, HAProxy and RFC 5424
// senders write them (the nginx and HAProxy datagrams were captured from Debian's builds).
import { describe, expect, it } from 'vitest';
import { parseSyslog } from './syslog.ts';

const COMBINED = '127.0.0.1 - - [30/Nov/2026:05:59:14 +0000] "GET / HTTP/1.1" 200 3 "-" "curl/7.88.1"';
const HTTPLOG =
  '127.0.0.1:45970 [30/Nov/2026:05:58:57.412] fe be/s1 0/0/0/2/2 200 215 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"';

const frame = (datagram: string | Buffer) => {
  const buf = Buffer.isBuffer(datagram) ? datagram : Buffer.from(datagram);
  const m = parseSyslog(buf);
  return { app: m.app, message: buf.toString('utf8', m.start, m.end) };
};

describe('RFC 3164', () => {
  it.each([
    ['nginx (hostname, tag)', `<190>Nov 30 05:59:14 web-0 nginx: ${COMBINED}`, 'nginx'],
    ['nginx nohostname', `<190>Nov 30 05:59:14 nginx: ${COMBINED}`, 'nginx'],
    ['a custom nginx tag', `<190>Nov  3 05:59:14 web-0 edge_1: ${COMBINED}`, 'edge_1'],
    ['HAProxy (tag[pid], no hostname)', `<134>Nov 30 05:58:57 haproxy[16141]: ${HTTPLOG}\n`, 'haproxy'],
    ['HAProxy with log-send-hostname', `<134>Nov 30 05:58:57 lb-1 haproxy[16141]: ${HTTPLOG}`, 'haproxy'],
    [
      'an RFC 3339 timestamp (rsyslog)',
      `<134>2026-11-30T05:58:57.412+00:00 lb-1 haproxy[7]: ${HTTPLOG}`,
      'haproxy',
    ],
  ])('%s', (_what, datagram, app) => {
    const m = frame(datagram);
    expect(m.app).toBe(app);
    expect(m.message).toBe(datagram.includes('haproxy') ? HTTPLOG : COMBINED);
  });

  it('no tag: the message is what follows the timestamp (nothing of it is dropped)', () => {
    expect(frame(`<13>Nov 30 05:59:14 ${COMBINED}`)).toEqual({ app: '-', message: COMBINED });
  });

  it('a colon inside the message is not a tag', () => {
    const m = frame(`<13>Nov 30 05:59:14 host app: ${HTTPLOG}`);
    expect(m).toEqual({ app: 'app', message: HTTPLOG });
  });
});

describe('RFC 5424', () => {
  it.each([
    ['no structured data', `<134>1 2026-11-30T05:58:57.412Z lb-1 haproxy 16141 - - ${HTTPLOG}`, 'haproxy'],
    [
      'structured data with escapes',
      `<134>1 2026-11-30T05:58:57Z lb-1 haproxy 16141 ID47 [a@1 x="q\\"]" y="\\\\"][b@2] ${HTTPLOG}`,
      'haproxy',
    ],
    ['nil values', `<190>1 - - nginx - - - ${COMBINED}`, 'nginx'],
  ])('%s', (_what, datagram, app) => {
    const m = frame(datagram);
    expect(m.app).toBe(app);
    expect(m.message).toBe(datagram.includes('haproxy') ? HTTPLOG : COMBINED);
  });

  it('a UTF-8 byte-order mark before the message is dropped', () => {
    const m = frame(
      Buffer.concat([
        Buffer.from('<190>1 - - nginx - - - '),
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from(COMBINED),
      ]),
    );
    expect(m).toEqual({ app: 'nginx', message: COMBINED });
  });

  it('no message at all', () => {
    expect(frame('<190>1 2026-11-30T05:58:57Z host app - - -')).toEqual({ app: 'app', message: '' });
  });
});

describe('no syslog header', () => {
  it.each([
    ['HAProxy format raw', `${HTTPLOG}\n`, HTTPLOG],
    ['a broken PRI', `<1x>Nov 30 05:59:14 nginx: ${COMBINED}`, `<1x>Nov 30 05:59:14 nginx: ${COMBINED}`],
    ['CRLF and NUL at the end', `${COMBINED}\r\n\u0000`, COMBINED],
  ])('%s: the whole datagram is the message', (_what, datagram, message) => {
    expect(frame(datagram)).toEqual({ app: '-', message });
  });
});
