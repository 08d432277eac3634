// HAProxy's `option httplog` line (the message part: what it sends to syslog after `haproxy[pid]: `,
// or writes with `log stdout format raw`):
//   127.0.0.1:41206 [25/Nov/2026:13:55:02.123] fe be/s1 0/0/1/2/3 200 152 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"
// i.e. `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq
// %hr %hs %{+Q}r`; the captured headers ({…}) appear only when captures are configured. The time
// is %Ta (total active time, ms); %B counts the whole response, headers included.
// One V8 expression: every group stops at a character it cannot contain, so nothing backtracks
// beyond one pass over the line.
import {
  type LineRecord,
  methodOfRequest,
  type ParseResult,
  type Parser,
  parseStatus,
  requestPart,
} from './record.ts';

const GROUPS = [
  'client_ip',
  'client_port',
  'accept_date',
  'frontend_name',
  'backend_name',
  'server_name',
  'TR',
  'Tw',
  'Tc',
  'Tr',
  'Ta',
  'status',
  'bytes_read',
  'captured_request_cookie',
  'captured_response_cookie',
  'termination_state',
  'actconn',
  'feconn',
  'beconn',
  'srv_conn',
  'retries',
  'srv_queue',
  'backend_queue',
  'request',
] as const;
const LINE =
  /^(\S+):(\d+) \[([^\]\s]+)\] (\S+) ([^\s/]+)\/([^\s/]+) (-?\d+)\/(-?\d+)\/(-?\d+)\/(-?\d+)\/\+?(-?\d+) (-?\d+) \+?(\d+) (\S+) (\S+) (\S+) (\d+)\/(\d+)\/(\d+)\/(\d+)\/\+?(\d+) (\d+)\/(\d+) (?:\{[^}]*\} ){0,2}"(.*)"$/;
const INDEX = new Map<string, number>(GROUPS.map((g, i) => [g, i + 1]));
const ALIASES: Record<string, string> = {
  remote_addr: 'client_ip',
  body_bytes_sent: 'bytes_read',
  upstream_addr: 'server_name',
};

export function haproxyParser(): Parser {
  return new HaproxyParser();
}

class HaproxyParser implements Parser, LineRecord {
  readonly fields = [...GROUPS, ...Object.keys(ALIASES), 'method', 'path', 'protocol', 'request_time'];
  readonly hasDuration = true;
  readonly name = 'haproxy';
  method = 0;
  status = 0;
  bytes = 0;
  duration = Number.NaN;
  #m: RegExpExecArray | null = null;

  parse(buf: Buffer, start: number, end: number): ParseResult {
    // Cheap first look: the line starts like an address and has a "[" early on.
    let bracket = start;
    const limit = Math.min(end, start + 64);
    while (bracket < limit && buf[bracket] !== 91 /* [ */) bracket++;
    if (bracket === limit) return null;
    const m = LINE.exec(buf.toString('utf8', start, end));
    if (m === null) return null;
    const status = parseStatus(m[12]);
    if (status === -1) return null;
    this.#m = m;
    this.status = status;
    this.method = methodOfRequest(m[24]!);
    this.bytes = Number(m[13]);
    const ta = Number(m[11]);
    this.duration = ta >= 0 ? ta / 1000 : Number.NaN;
    return this;
  }

  field(name: string): string | undefined {
    const m = this.#m;
    if (m === null) return undefined;
    const i = INDEX.get(ALIASES[name] ?? name);
    if (i !== undefined) return m[i];
    if (name === 'method' || name === 'path' || name === 'protocol') return requestPart(m[24]!, name);
    if (name === 'request_time') return Number.isNaN(this.duration) ? undefined : String(this.duration);
    if (name === 'code') return m[12];
    return undefined;
  }
}
