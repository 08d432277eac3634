// The answers the ambassador makes itself: a short plain-text body saying what went wrong, never an
// HTML page and never a hang. Gateway failures are told apart by the error's code, not its text.
import type { ServerResponse } from 'node:http';

export function plain(
  res: ServerResponse,
  status: number,
  text: string,
  close = false,
  headers: Record<string, string> = {},
): void {
  const body = `${status} ${text}\n`;
  res.writeHead(status, {
    ...headers,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(body);
}

/** Why an attempt failed, as the client reads it; `timeout` marks the ones that took the read timeout. */
export interface GatewayFailure {
  readonly status: 502 | 504;
  readonly text: string;
}

const TLS_CODE = /CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_SSL/;

export function describeFailure(err: NodeJS.ErrnoException): GatewayFailure {
  const code = err.code ?? '';
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { status: 504, text: 'gateway timeout: connecting to the upstream timed out' };
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return { status: 504, text: 'gateway timeout: the upstream did not answer in time' };
    case 'ECONNREFUSED':
      return { status: 502, text: 'bad gateway: the upstream refused the connection' };
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return { status: 502, text: 'bad gateway: the upstream closed the connection' };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { status: 502, text: 'bad gateway: the upstream host name does not resolve' };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { status: 502, text: 'bad gateway: the upstream is unreachable' };
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
    case 'UND_ERR_RES_EXCEEDED_MAX_SIZE':
      return { status: 502, text: 'bad gateway: the upstream sent a malformed response' };
  }
  if (code.startsWith('HPE_') || err.name === 'HTTPParserError')
    return { status: 502, text: 'bad gateway: the upstream sent a malformed response' };
  if (TLS_CODE.test(code)) return { status: 502, text: `bad gateway: TLS to the upstream failed (${code})` };
  if (code.startsWith('ERR_HTTP_INVALID') || code === 'ERR_INVALID_CHAR')
    return { status: 502, text: 'bad gateway: the upstream sent a header that cannot be relayed' };
  return { status: 502, text: `bad gateway: ${code || 'the upstream failed'}` };
}
