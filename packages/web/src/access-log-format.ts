// One access log line per request, in nginx `combined` plus $request_time (or one JSON object
// with nginx's variable names), for answered requests and for those refused before routing.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { sentTarget } from './request-gate.ts';

export type AccessLogFormat = 'combined' | 'json';

/** A request refused before it was parsed whole: no request object, only what was read of it. */
export interface Rejected {
  /** The request line as received (`GARBAGE`, `GET / HTTP/1.1`), or `-` when none was read. */
  request: string;
  status: number;
  bytes: number;
  /** Seconds it took, or null when unknown (logged as `-`). */
  seconds: number | null;
  referer?: string | undefined;
  userAgent?: string | undefined;
}

interface Fields {
  addr: string;
  method: string;
  uri: string;
  protocol: string;
  /** $request: the request line as the client sent it. */
  request: string;
  status: number;
  bytes: number;
  referer: string | undefined;
  userAgent: string | undefined;
  /** $request_time with 3 decimals, or null when unknown. */
  time: string | null;
}

export class LineFormatter {
  readonly #format: AccessLogFormat;
  readonly #now: () => number;
  #lastSecond = -1;
  #lastStamp = '';

  constructor(format: AccessLogFormat, now: () => number) {
    this.#format = format;
    this.#now = now;
  }

  /** The line of an answered (or abandoned) request. */
  request(req: IncomingMessage, status: number, bytes: number, seconds: number): string {
    const method = req.method ?? '';
    const uri = sentTarget(req) ?? '';
    const protocol = `HTTP/${req.httpVersion}`;
    return this.#line({
      addr: socketAddress(req.socket),
      method,
      uri,
      protocol,
      request: `${method} ${uri} ${protocol}`,
      status,
      bytes,
      referer: req.headers.referer,
      userAgent: req.headers['user-agent'],
      time: seconds.toFixed(3),
    });
  }

  /** The line of a request refused before it was parsed whole. */
  rejected(socket: Socket, r: Rejected): string {
    const [method = '', uri = '', protocol = ''] = r.request === '-' ? [] : r.request.split(' ');
    return this.#line({
      addr: socketAddress(socket),
      method,
      uri,
      protocol,
      request: r.request,
      status: r.status,
      bytes: r.bytes,
      referer: r.referer,
      userAgent: r.userAgent,
      time: r.seconds === null ? null : r.seconds.toFixed(3),
    });
  }

  #line(f: Fields): string {
    if (this.#format === 'json')
      return JSON.stringify({
        time: new Date(this.#now()).toISOString(),
        remote_addr: f.addr,
        method: f.method,
        uri: f.uri,
        protocol: f.protocol,
        status: f.status,
        body_bytes_sent: f.bytes,
        http_referer: f.referer ?? '',
        http_user_agent: f.userAgent ?? '',
        request_time: f.time === null ? null : Number(f.time),
      });
    return `${f.addr} - - [${this.#timeLocal()}] "${esc(f.request)}" ${f.status} ${f.bytes} "${esc(f.referer ?? '-')}" "${esc(f.userAgent ?? '-')}" ${f.time ?? '-'}`;
  }

  /** $time_local, formatted once a second. */
  #timeLocal(): string {
    const sec = Math.floor(this.#now() / 1000);
    if (sec !== this.#lastSecond) {
      this.#lastSecond = sec;
      this.#lastStamp = timeLocal(new Date(sec * 1000));
    }
    return this.#lastStamp;
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** nginx $time_local in UTC: 25/Nov/2026:13:55:02 +0000. */
export function timeLocal(d: Date): string {
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

function socketAddress(socket: Socket): string {
  const a = socket.remoteAddress ?? '-';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

const NEEDS_ESCAPE = /["\\\x00-\x1f\x7f-\uffff]/;

/** nginx's default log escaping: ", \ and non-printable bytes become \xHH. */
export function esc(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  let out = '';
  for (const ch of Buffer.from(s, 'latin1')) {
    out +=
      ch === 0x22 || ch === 0x5c || ch < 0x20 || ch > 0x7e
        ? `\\x${ch.toString(16).toUpperCase().padStart(2, '0')}`
        : String.fromCharCode(ch);
  }
  return out;
}
