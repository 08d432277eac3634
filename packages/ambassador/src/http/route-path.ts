// The path a route is matched on, and the one forwarded: RFC 3986 normalisation of the request
// target's path, so `/public/../admin` (or `/public/%2e%2e/admin`) can never match a `/public` route
// while the upstream resolves it to `/admin`. Percent-encoded unreserved characters are decoded
// (§6.2.2.2), remaining escapes upper-cased (§6.2.2.1), dot segments removed (§5.2.4). Escapes of
// reserved characters — `%2F`, `%5C`, `%3B`… — stay as they are and never act as separators here;
// a dot segment beside an escaped slash (`..%2F`), which servers that decode it read as a way up, is
// refused instead.

export type NormalisedTarget =
  | { readonly ok: true; readonly path: string; readonly query: string }
  | { readonly ok: false; readonly reason: string };

const HEX = '0123456789ABCDEF';
const ENCODED_SEPARATOR = /%2F|%5C/;

function isDotSegment(s: string): boolean {
  return s === '.' || s === '..';
}

/** 1 for ALPHA / DIGIT / "-" / "." / "_" / "~" (RFC 3986 §2.3), by char code. */
const UNRESERVED = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9\-._~]/.test(ch)) UNRESERVED[c] = 1;
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  const lower = code | 0x20;
  if (lower >= 97 && lower <= 102) return lower - 87; // a-f
  return -1;
}

/**
 * Splits an origin-form target (`/a/b?q`) into its normalised path and its query (with the `?`,
 * untouched). Refuses malformed escapes, and dot segments carrying path parameters (`..;x`), which
 * servlet containers resolve as `..` after this proxy would have matched them as a name.
 */
export function normaliseTarget(target: string): NormalisedTarget {
  // RFC 9112 §3.2: a request target has no fragment. Servers that cut it (nginx) would read
  // `/public/..#x` as `/public/..`: refuse rather than guess.
  if (target.indexOf('#') !== -1) return { ok: false, reason: 'a fragment (#) in the request target' };
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q);
  // Not a separator in RFC 3986, but some servers read it as one (`/public\..\admin`); clients
  // that mean it send %5C, which is kept.
  if (rawPath.indexOf('\\') !== -1)
    return { ok: false, reason: 'a raw backslash in the path (send it as %5C)' };
  // Fast path: nothing to decode and no dot segment possible.
  if (rawPath.indexOf('%') === -1 && rawPath.indexOf('/.') === -1) return { ok: true, path: rawPath, query };
  const decoded = decodeUnreserved(rawPath);
  if (decoded === undefined) return { ok: false, reason: 'malformed percent-encoding in the path' };
  const segments = decoded.split('/');
  const out: string[] = [];
  // segments[0] is '' (the path starts with '/'); the rest are walked as RFC 3986 §5.2.4 does.
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    if (s === '.' || s === '..') {
      if (s === '..') out.pop();
      if (last) out.push(''); // `/a/b/..` is the directory `/a/`
      continue;
    }
    const semi = s.indexOf(';');
    if (semi !== -1) {
      const name = s.slice(0, semi);
      if (name === '.' || name === '..')
        return { ok: false, reason: 'a dot segment with path parameters in the path' };
    }
    // nginx and others decode %2F (and some %5C) before they resolve dot segments: `..%2F` is a
    // way up for them, a plain name for the route. Refuse the combination, keep lone escapes.
    if (s.indexOf('%') !== -1 && ENCODED_SEPARATOR.test(s) && s.split(ENCODED_SEPARATOR).some(isDotSegment))
      return { ok: false, reason: 'a dot segment next to an encoded slash (%2F or %5C) in the path' };
    out.push(s);
  }
  return { ok: true, path: `/${out.join('/')}`, query };
}

/** Decodes %XX of unreserved characters, upper-cases the other escapes; undefined if malformed. */
function decodeUnreserved(path: string): string | undefined {
  let out = '';
  let from = 0;
  for (let i = path.indexOf('%'); i !== -1; i = path.indexOf('%', from)) {
    const hi = hexValue(path.charCodeAt(i + 1));
    const lo = hexValue(path.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return undefined;
    const code = hi * 16 + lo;
    out += path.slice(from, i);
    out += code < 128 && UNRESERVED[code] ? String.fromCharCode(code) : `%${HEX[hi]}${HEX[lo]}`;
    from = i + 3;
  }
  return out + path.slice(from);
}
