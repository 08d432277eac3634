// Requests that never reach a handler: the parser refused them (malformed, headers too large, too
// slow) or they are CONNECT. Each is answered as nginx answers it (the statuses the ambassador
// gives too, from @multipod/service's http-errors) and written to the access log with what was read
// of its request line, so the log-adapter counts it like any other.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { afterClose, rawResponse, refusalFor } from '@multipod/service';
import type { AccessLog } from './access-log.ts';
import { ABSOLUTE } from './request-gate.ts';

type ParseError = NodeJS.ErrnoException & { rawPacket?: Buffer; bytesParsed?: number };

/** Longest request line logged (nginx's large_client_header_buffers are 8k too). */
const MAX_LINE = 8192;

/** The answer, with no body: nothing a client could mistake for content. */
function answer(socket: Socket, status: number): void {
  socket.end(rawResponse(status, ''));
}

/** A line that can start a request: a method, a space, something. */
const REQUEST_START = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ \S/;

function lineAt(raw: Buffer, start: number): string {
  let end = raw.indexOf('\n', start);
  if (end === -1) end = raw.length;
  else if (end > start && raw[end - 1] === 13 /* \r */) end--;
  return raw.toString('latin1', start, Math.min(end, start + MAX_LINE));
}

/**
 * The request line of the request the parser gave up on: the chunk's first line, or, when a
 * complete message ends before the error (a keep-alive client's earlier request) and a request line
 * follows it, that one. (`PRI * HTTP/2.0`, the HTTP/2 preface, fails on its second part, `SM`.)
 */
function requestLineOf(err: ParseError): string {
  const raw = err.rawPacket;
  if (!raw?.length) return '-';
  const stop = Math.min(err.bytesParsed ?? raw.length, raw.length);
  const previous = stop >= 4 ? raw.lastIndexOf('\r\n\r\n', stop - 4) : -1;
  if (previous !== -1) {
    const next = lineAt(raw, previous + 4);
    if (REQUEST_START.test(next)) return next;
  }
  return lineAt(raw, 0) || '-';
}

/**
 * The status for what the parser refused (431 where nginx says 400 for big headers). The version
 * is nginx's rule, not the shared one: 505 only for HTTP/2 and later with a target that is a path
 * or a URL (nginx judges the target first); HTTP/1.2 or a malformed version is 400.
 */
function statusOf(err: ParseError, line: string, status: number): number {
  if (err.code !== 'HPE_INVALID_VERSION') return status;
  const parts = /^\S+ (\S+) HTTP\/(\d+)\.\d+$/.exec(line);
  if (!parts || Number(parts[2]) < 2) return 400;
  return parts[1]!.startsWith('/') || ABSOLUTE.test(parts[1]!) ? 505 : 400;
}

/** The server's 'clientError': answer, log, close. */
export function onClientError(err: ParseError, socket: Socket, log: AccessLog): void {
  // Bytes after a request that said `Connection: close`: its response is still owed, Node closes
  // the connection after it, and there is no other request to answer or log.
  if (afterClose(err)) return;
  const refusal = refusalFor(err);
  // A connection that sent nothing before its timeout, or that reset: nothing to answer or log.
  if (!refusal || !socket.writable || socket.bytesRead === 0) {
    socket.destroy();
    return;
  }
  const request = requestLineOf(err);
  const status = statusOf(err, request, refusal.status);
  const reply = () => {
    answer(socket, status);
    log.rejected(socket, { request, status, bytes: 0, seconds: status === 408 ? null : 0 });
  };
  // A keep-alive client may have sent a good request just before the bad one: its response goes
  // out first, as nginx does. (`_httpMessage` is the response in flight; Node's own handler reads it.)
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (inFlight && !inFlight.writableFinished) {
    inFlight.once('finish', reply);
    inFlight.once('close', () => socket.writable && !socket.writableEnded && reply());
  } else reply();
}

/** The server's 'connect': a static file server is no proxy; nginx answers 400. */
export function onConnect(req: IncomingMessage, socket: Socket, log: AccessLog): void {
  socket.on('error', () => socket.destroy());
  answer(socket, 400);
  log.rejected(socket, {
    request: `${req.method} ${req.url} HTTP/${req.httpVersion}`,
    status: 400,
    bytes: 0,
    seconds: 0,
    referer: req.headers.referer,
    userAgent: req.headers['user-agent'],
  });
}
