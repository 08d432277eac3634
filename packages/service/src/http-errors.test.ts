import { once } from 'node:events';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawResponse, refusalFor, refuseVersion } from './http-errors.ts';

// A real node:http server wired the way web and the ambassador wire it, so the statuses are those
// Node's own parser errors map to, not codes assumed by hand.
let port = 0;
const server = createServer((req, res) => {
  const r = refuseVersion(req.httpVersionMajor, req.httpVersionMinor);
  res.statusCode = r?.status ?? 200;
  res.end(r?.reason ?? 'ok');
});
server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
  const r = refusalFor(err);
  if (!r || !socket.writable) return void socket.destroy();
  socket.end(rawResponse(r.status, `${r.status} ${r.reason}\n`));
});
beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function send(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(text));
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d) => (out += d));
    s.on('end', () => resolve(out));
    s.on('close', () => resolve(out));
    s.on('error', reject);
    setTimeout(() => s.end(), 300);
  });
}

describe('answers to refused requests', () => {
  it('maps parser errors to nginx statuses, with words instead of parser codes', async () => {
    expect(await send('GET / HTTP/1.2\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1.1 505 /);
    expect(await send(`GET / HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(20_000)}\r\n\r\n`)).toMatch(
      /^HTTP\/1.1 431 /,
    );
    const framing = await send(
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
    );
    expect(framing).toMatch(/^HTTP\/1.1 400 /);
    expect(framing).toMatch(/framing/);
    expect(await send('G\u0001T / HTTP/1.1\r\n\r\n')).not.toMatch(/HPE_/);
  });

  it('refuses HTTP versions Node accepts but HTTP/1 servers must not', async () => {
    expect(await send('GET / HTTP/2.0\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1.1 505 /);
    expect(await send('GET / HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1.1 200 /);
    expect(refuseVersion(0, 9)?.status).toBe(505);
  });

  it('says nothing to a client that reset the connection', () => {
    expect(refusalFor(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBeUndefined();
  });
});
