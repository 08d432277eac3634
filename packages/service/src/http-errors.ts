// Answers to requests an HTTP server refuses before any handler runs, shared by web and the
// ambassador so both answer a malformed request alike (nginx's statuses): the status for a parser
// error, the check for HTTP versions other than 1.x, and the raw response written on a socket
// that no longer has a ServerResponse. Parser codes (HPE_*) stay in logs; clients get words.
import { STATUS_CODES } from 'node:http';

export interface Refusal {
  readonly status: number;
  /** Short, for the client: what was wrong with the request. */
  readonly reason: string;
}

/**
 * Bytes after a request that said `Connection: close`: the parser stops there, but the response in
 * flight is still owed. The caller leaves the socket alone; Node closes it after that response.
 */
export function afterClose(err: NodeJS.ErrnoException): boolean {
  return err.code === 'HPE_CLOSED_CONNECTION';
}

/**
 * What to answer a `clientError` from Node's HTTP parser; undefined when there is nobody to answer
 * (the client reset or closed the connection, or see afterClose).
 */
export function refusalFor(err: NodeJS.ErrnoException): Refusal | undefined {
  switch (err.code) {
    case 'ECONNRESET':
    case 'EPIPE':
    case 'HPE_CLOSED_CONNECTION': // bytes after "Connection: close": the exchange is over
      return undefined;
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, reason: 'request header fields too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return { status: 408, reason: 'the request took too long to arrive' };
    case 'HPE_INVALID_VERSION':
      return { status: 505, reason: 'HTTP version not supported (HTTP/1.0 and HTTP/1.1 are)' };
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_CONTENT_LENGTH':
      return {
        status: 400,
        reason: 'conflicting or invalid message framing (Content-Length / Transfer-Encoding)',
      };
    case 'HPE_INVALID_METHOD':
      return { status: 400, reason: 'invalid method' };
    default:
      return { status: 400, reason: 'malformed request' };
  }
}

/** Node's parser accepts `HTTP/2.0` and `HTTP/0.9` request lines; an HTTP/1 server must not. */
export function refuseVersion(major: number, minor: number): Refusal | undefined {
  if (major === 1 && (minor === 0 || minor === 1)) return undefined;
  return { status: 505, reason: 'HTTP version not supported (HTTP/1.0 and HTTP/1.1 are)' };
}

/** A whole `Connection: close` response as one string, for a socket with no ServerResponse. */
export function rawResponse(status: number, body: string, headers: Record<string, string> = {}): string {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  return `${head}connection: close\r\n\r\n${body}`;
}
