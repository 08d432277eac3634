// What nginx refuses before routing, refused the same way and written to the access log: HTTP
// versions, Host (missing, repeated, malformed), request targets; parser errors, 431, timeouts and
// CONNECT, which never reach a handler, are logged too, so the log-adapter counts them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Web } from './server.ts';
import { http, raw, Site, startWeb, until } from './testing.ts';

const site = new Site();
const log = join(site.dir, 'access.log');
let web: Web;

beforeAll(async () => {
  site.publish({ 'index.html': 'home\n', 'a.txt': 'aaa\n' });
  web = await startWeb({
    WEB_ROOT: site.current,
    WEB_ACCESS_LOG: log,
    WEB_HEADERS_TIMEOUT: '300ms',
    WEB_REQUEST_TIMEOUT: '300ms',
  });
});
afterAll(async () => {
  await web?.stop();
  site.remove();
});

const statusOf = (reply: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1]);

/** The access log line that mentions `marker`, once it is written. */
async function logged(marker: string): Promise<string> {
  let line: string | undefined;
  await until(
    () => {
      line = readFileSync(log, 'utf8')
        .split('\n')
        .find((l) => l.includes(marker));
      return line !== undefined;
    },
    5000,
    `access log line with ${marker}`,
  );
  return line!;
}

const LINE = (request: string, status: number) =>
  new RegExp(
    `^127\\.0\\.0\\.1 - - \\[[^\\]]+\\] "${request.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}" ${status} \\d+ "-" "-" (\\d+\\.\\d{3}|-)$`,
  );

describe('refused before routing, as nginx refuses', () => {
  it.each([
    ['HTTP/2.0 request line', 'GET /a.txt?v2 HTTP/2.0\r\nHost: x\r\n\r\n', 505, 'GET /a.txt?v2 HTTP/2.0'],
    [
      'HTTP/3.0 (the parser refuses it)',
      'GET /a.txt?v3 HTTP/3.0\r\nHost: x\r\n\r\n',
      505,
      'GET /a.txt?v3 HTTP/3.0',
    ],
    [
      'duplicate Host',
      'GET /a.txt?dup HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
      400,
      'GET /a.txt?dup HTTP/1.1',
    ],
    [
      'the same Host twice',
      'GET /a.txt?same HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n',
      400,
      'GET /a.txt?same HTTP/1.1',
    ],
    ['HTTP/1.1 without Host', 'GET /a.txt?nohost HTTP/1.1\r\n\r\n', 400, 'GET /a.txt?nohost HTTP/1.1'],
    ['an empty Host', 'GET /a.txt?empty HTTP/1.1\r\nHost:\r\n\r\n', 400, 'GET /a.txt?empty HTTP/1.1'],
    [
      'a Host with a slash',
      'GET /a.txt?slash HTTP/1.1\r\nHost: a/b\r\n\r\n',
      400,
      'GET /a.txt?slash HTTP/1.1',
    ],
    ['a Host with ..', 'GET /a.txt?dots HTTP/1.1\r\nHost: a..b\r\n\r\n', 400, 'GET /a.txt?dots HTTP/1.1'],
    [
      'HTTP/1.0 with two Hosts',
      'GET /a.txt?h10 HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n',
      400,
      'GET /a.txt?h10 HTTP/1.0',
    ],
    ['HTTP/0.9', 'GET /a.txt?h09 HTTP/0.9\r\n\r\n', 400, 'GET /a.txt?h09 HTTP/0.9'],
    ['an asterisk target', 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'OPTIONS * HTTP/1.1'],
    ['a malformed request line', 'GARBAGE-LINE\r\n\r\n', 400, 'GARBAGE-LINE'],
    [
      'a malformed header',
      'GET /a.txt?badhdr HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n',
      400,
      'GET /a.txt?badhdr HTTP/1.1',
    ],
    [
      'headers over 16 KiB',
      `GET /a.txt?big HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
      431,
      'GET /a.txt?big HTTP/1.1',
    ],
    [
      'CONNECT',
      'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
      400,
      'CONNECT example.com:443 HTTP/1.1',
    ],
    ['the HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400, 'PRI * HTTP/2.0'],
  ])('%s → %i, answered and logged', async (_name, request, status, line) => {
    const reply = await raw(web.port, request);
    expect(statusOf(reply)).toBe(status);
    expect(reply).toMatch(/\r\nconnection: close\r\n/i);
    expect(await logged(`"${line}"`)).toMatch(LINE(line, status));
  });

  it('logs a request whose headers never end as 408, with the time unknown', async () => {
    const reply = await raw(web.port, 'GET /a.txt?slow HTTP/1.1\r\nHost: x\r\n');
    expect(statusOf(reply)).toBe(408);
    // Node does not hand over what it read of a timed-out request, so the request is "-".
    expect(await logged('" 408 ')).toMatch(/"-" 408 0 "-" "-" -$/);
  });

  it('answers a good request that came just before a bad one on the same connection first', async () => {
    const reply = await raw(
      web.port,
      'GET /a.txt?first HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/9.9\r\nHost: x\r\n\r\n',
    );
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*\r\n\r\naaa\nHTTP\/1\.1 505 /);
    expect(await logged('?first')).toMatch(LINE('GET /a.txt?first HTTP/1.1', 200));
    expect(await logged('/b HTTP/9.9')).toMatch(LINE('GET /b HTTP/9.9', 505));
  });
});

describe('accepted as nginx accepts them', () => {
  it('serves an absolute-form target by its path (RFC 9112 §3.2.2) and logs it as sent', async () => {
    const reply = await raw(
      web.port,
      'GET http://other.example/a.txt?abs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(statusOf(reply)).toBe(200);
    expect(reply).toMatch(/\r\n\r\naaa\n$/);
    expect(await logged('?abs')).toMatch(LINE('GET http://other.example/a.txt?abs HTTP/1.1', 200));
  });

  it('serves an HTTP/1.0 request without Host, and ignores an Expect it does not know (no 417)', async () => {
    expect(statusOf(await raw(web.port, 'GET /a.txt?h10 HTTP/1.0\r\n\r\n'))).toBe(200);
    const expectFoo = await http(web.port, '/a.txt?expect', { headers: { expect: 'something-else' } });
    expect(expectFoo.status).toBe(200);
    expect(await logged('?expect')).toMatch(/"GET \/a\.txt\?expect HTTP\/1\.1" 200 4 /);
  });

  it('takes Host with a port, an IPv6 literal, a trailing dot or an underscore', async () => {
    for (const host of ['x:8080', '[::1]:8080', 'example.com.', 'my_host'])
      expect(
        statusOf(await raw(web.port, `GET /a.txt HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)),
        host,
      ).toBe(200);
  });

  it('answers a request that says Connection: close and ignores the bytes after it, logging one line', async () => {
    await http(web.port, '/a.txt?before-closing');
    await logged('?before-closing');
    const before = readFileSync(log, 'utf8');
    const reply = await raw(
      web.port,
      'GET /a.txt?closing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGARBAGE\r\n\r\n',
    );
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*\r\n\r\naaa\n$/);
    await http(web.port, '/a.txt?after-closing');
    await logged('?after-closing');
    const added = readFileSync(log, 'utf8').slice(before.length).split('\n').filter(Boolean);
    expect(added).toHaveLength(2);
    expect(added[0]).toMatch(LINE('GET /a.txt?closing HTTP/1.1', 200));
  });

  it('logs nothing for a connection that sent nothing before the timeout (nginx neither)', async () => {
    await http(web.port, '/a.txt?before-silence');
    await logged('?before-silence');
    const before = readFileSync(log, 'utf8');
    expect(await raw(web.port, '')).toBe('');
    await http(web.port, '/a.txt?after-silence');
    await logged('?after-silence');
    const added = readFileSync(log, 'utf8').slice(before.length).split('\n').filter(Boolean);
    expect(added).toHaveLength(1);
  });
});
