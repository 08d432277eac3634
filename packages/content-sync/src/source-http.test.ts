// Requests to a remote source, against real sockets: a kept-alive connection the server drops as
// it is reused is tried once more; a connection that fails otherwise is an error naming the URL.
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SourceFailure, sourceRequest } from './source-http.ts';

let server: Server | undefined;
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy(); // the client keeps its connection alive
  sockets.clear();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

const OK =
  'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\nKeep-Alive: timeout=60\r\n\r\nok';

/** A raw HTTP server: `onRequest(n, socket, connection)` for the n-th request head it reads. */
async function rawServer(
  onRequest: (n: number, socket: Socket, connection: number) => void,
): Promise<string> {
  let requests = 0;
  let connections = 0;
  server = createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    let buf = '';
    socket.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      while (buf.includes('\r\n\r\n')) {
        buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
        onRequest(++requests, socket, connection);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return `http://127.0.0.1:${port}/repo.git/info/refs`;
}

const get = async (url: string) => {
  const res = await sourceRequest(url, { timeoutMs: 5_000, maxBytes: 1_000 });
  let body = '';
  for await (const chunk of res.body) body += chunk.toString();
  return { status: res.status, body };
};

describe('sourceRequest', () => {
  it('sends a request again when the kept-alive connection it reused is dropped before an answer', async () => {
    const seen: Array<[number, number]> = [];
    const url = await rawServer((n, socket, connection) => {
      seen.push([n, connection]);
      if (n === 2)
        socket.destroy(); // the server's idle timeout, just as the client reused it
      else socket.write(OK);
    });
    expect(await get(url)).toEqual({ status: 200, body: 'ok' });
    expect(await get(url)).toEqual({ status: 200, body: 'ok' });
    // The second request went out on the kept connection, was dropped, and was sent on a new one.
    expect(seen).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
    ]);
  });

  it('does not retry a new connection that is dropped: an error naming the URL', async () => {
    const url = await rawServer((_n, socket) => socket.destroy());
    const err = await get(url).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceFailure);
    expect((err as SourceFailure).message).toMatch(
      /^cannot reach http:\/\/127\.0\.0\.1:\d+\/repo\.git\/info\/refs: /,
    );
    expect((err as SourceFailure).reason).toBe('unreachable');
  });
});
