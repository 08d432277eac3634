// What nginx refuses before it routes a request, refused the same way here, as a response the access
// log records: an HTTP version it does not speak (2.0 and up → 505, 0.9 → 400), a missing, repeated
// or malformed Host (400), a target that is neither a path nor an absolute URL (400). An
// absolute-form target (`GET http://host/a HTTP/1.1`, RFC 9112 §3.2.2) is served by its path.
import type { IncomingMessage } from 'node:http';
import type { Refusal } from '@multipod/service';

const refusal = (status: 400 | 505, reason: string): Refusal => Object.freeze({ status, reason });
const VERSION = refusal(505, 'HTTP version not supported');
const HTTP09 = refusal(400, 'HTTP/0.9 is not supported');
const NO_HOST = refusal(400, 'missing Host header');
const TWO_HOSTS = refusal(400, 'duplicate Host header');
const BAD_HOST = refusal(400, 'invalid Host header');
const BAD_TARGET = refusal(400, 'request target must be a path or an absolute URL');

/** The request target as the client sent it, when an absolute-form one was reduced to its path. */
const SENT_TARGET = Symbol('sentTarget');
type Targeted = IncomingMessage & { [SENT_TARGET]?: string };

/** The target to log: as sent, even when routing uses its path. */
export function sentTarget(req: IncomingMessage): string | undefined {
  return (req as Targeted)[SENT_TARGET] ?? req.url;
}

/** scheme://authority, then the path and query (or nothing). */
export const ABSOLUTE = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

// nginx's ngx_http_validate_host: no "..", no "/", no control characters or spaces, and a host part
// (before the port; an IPv6 literal in brackets) that is not empty once a trailing dot is dropped.
const HOST_CHARS = /^[^\x00-\x20\x7f/]+$/;
let lastGoodHost = 'localhost';

function validHost(host: string): boolean {
  if (host === lastGoodHost) return true;
  if (!HOST_CHARS.test(host) || host.includes('..')) return false;
  const end = host.startsWith('[') ? host.indexOf(']') + 1 : host.indexOf(':');
  const name = end <= 0 ? host : host.slice(0, end);
  if (name === '' || name === '.') return false;
  lastGoodHost = host;
  return true;
}

/**
 * Why the request is refused before routing, or null; nginx's order: the target, the version, then
 * Host. May rewrite an absolute-form `req.url` to its path.
 */
export function refuse(req: IncomingMessage): Refusal | null {
  const url = req.url ?? '';
  if (url.charCodeAt(0) !== 47 /* / */) {
    const m = ABSOLUTE.exec(url);
    if (!m) return BAD_TARGET;
    const rest = url.slice(m[0].length);
    (req as Targeted)[SENT_TARGET] = url;
    req.url = rest.startsWith('/') ? rest : `/${rest}`;
  }
  if (req.httpVersionMajor !== 1) return req.httpVersionMajor > 1 ? VERSION : HTTP09;
  // Node keeps only the first Host in req.headers; the raw list shows a second one.
  const raw = req.rawHeaders;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && (name === 'Host' || name === 'host' || name.toLowerCase() === 'host')) {
      if (host !== undefined) return TWO_HOSTS;
      host = raw[i + 1]!;
    }
  }
  if (host === undefined) return req.httpVersionMinor === 1 ? NO_HOST : null;
  return validHost(host) ? null : BAD_HOST;
}
