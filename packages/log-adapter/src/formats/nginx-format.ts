// Compiles an nginx log_format string (as pasted from nginx.conf) into one regular expression:
// each $variable becomes a group, everything else must match literally.
import { RegexParser } from './regex-parser.ts';

const NUMBER = '(\\d+|-)';
/** A list with one value per upstream tried, ", " within a group and " : " across redirects. */
const list = (one: string) => `((?:${one})(?:(?:, | : )(?:${one}))*)`;
const SECONDS = list('\\d+(?:\\.\\d+)?|-');
const NUMBERS = list('\\d+|-');
/** Variables with a known shape; the rest match up to the next literal character. */
const SHAPES: Record<string, string> = {
  status: '(\\d{3})',
  body_bytes_sent: NUMBER,
  bytes_sent: NUMBER,
  request_length: NUMBER,
  connection: NUMBER,
  connection_requests: NUMBER,
  request_time: '(\\d+(?:\\.\\d+)?|-)',
  upstream_response_time: SECONDS,
  upstream_connect_time: SECONDS,
  upstream_header_time: SECONDS,
  upstream_response_length: NUMBERS,
  upstream_bytes_received: NUMBERS,
  upstream_bytes_sent: NUMBERS,
  upstream_status: list('\\d{3}|-'),
  // host:port, unix:/path, or the group's name when no server could be tried
  upstream_addr: list('[^\\s,"]+'),
  msec: '(\\d+(?:\\.\\d+)?)',
};

const VARIABLE = /\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g;

export class NginxFormatError extends Error {
  override name = 'NginxFormatError';
}

/** True when the value looks like a log_format string rather than a format name. */
export function isNginxFormat(s: string): boolean {
  return /\$\{?[A-Za-z_]/.test(s);
}

export function nginxFormatParser(format: string): RegexParser {
  // Pasted from nginx.conf: drop `log_format name`, the quotes around each piece and the `;`.
  const body = unquote(format);
  const names: string[] = [];
  let re = '^';
  let last = 0;
  const matches = [...body.matchAll(VARIABLE)];
  matches.forEach((m, k) => {
    const literal = body.slice(last, m.index);
    re += escapeRegex(literal);
    const name = (m[1] ?? m[2])!;
    const after = body.slice(m.index + m[0].length, matches[k + 1]?.index ?? body.length);
    if (after === '' && k + 1 < matches.length)
      throw new NginxFormatError(
        `variables $${name} and $${(matches[k + 1]![1] ?? matches[k + 1]![2])!} touch; nothing tells where one ends`,
      );
    const shape = SHAPES[name];
    if (shape) re += shape;
    else if (after === '') re += '(.*?)';
    else re += `([^${escapeClass(after[0]!)}]*)`;
    names.push(name);
    last = m.index + m[0].length;
  });
  re += `${escapeRegex(body.slice(last))}\\r?$`;
  if (!names.includes('status'))
    throw new NginxFormatError('the format has no $status; it is needed for http_requests_total{code}');
  if (!names.includes('request') && !names.includes('request_method'))
    throw new NginxFormatError('the format has no $request or $request_method; the method label needs one');
  const compiled = new RegExp(re);
  return new RegexParser((text) => compiled.exec(text), names, 'nginx');
}

function unquote(format: string): string {
  let s = format.trim();
  const decl = /^log_format\s+\S+\s+(?:escape=\S+\s+)?/.exec(s);
  if (decl) s = s.slice(decl[0].length);
  if (s.endsWith(';')) s = s.slice(0, -1).trimEnd();
  // 'a' 'b' pieces (one per line in nginx.conf) are concatenated.
  const pieces = [...s.matchAll(/'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g)];
  if (/^['"]/.test(s)) return pieces.map((p) => (p[1] ?? p[2] ?? '').replace(/\\(.)/g, '$1')).join('');
  return s;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function escapeClass(c: string): string {
  return c.replace(/[\]\\^-]/g, '\\$&');
}
