// The nginx/Apache formats everyone has: common, combined, and web's default (combined plus
// $request_time, which also accepts plain combined lines). A hand-written scanner, not a regex:
// it reads the line's bytes in place and makes no string unless a custom metric asks for a field.
import { type LineRecord, METHODS, type Parser, requestPart } from './record.ts';

type Layout = 'common' | 'combined' | 'web';

// Field slots: [start, end) offsets of each field in the text.
const FIELDS = [
  'remote_addr',
  'ident',
  'remote_user',
  'time_local',
  'request',
  'status',
  'body_bytes_sent',
  'http_referer',
  'http_user_agent',
  'request_time',
] as const;
const SLOT = new Map<string, number>(FIELDS.map((f, i) => [f, i]));
const SPACE = 32;
const QUOTE = 34;
const BACKSLASH = 92;

export function commonParser(): Parser {
  return new CombinedScanner('common');
}

export function combinedParser(): Parser {
  return new CombinedScanner('combined');
}

/** web's access log: combined plus the request time in seconds; plain combined lines parse too. */
export function webParser(): Parser {
  return new CombinedScanner('web');
}

class CombinedScanner implements Parser, LineRecord {
  readonly fields: readonly string[];
  readonly hasDuration: boolean;
  readonly #layout: Layout;
  method = 0;
  status = 0;
  bytes = 0;
  duration = Number.NaN;
  #buf: Buffer = Buffer.alloc(0);
  readonly #at = new Int32Array(FIELDS.length * 2);

  constructor(layout: Layout) {
    this.#layout = layout;
    this.hasDuration = layout === 'web';
    const n = layout === 'common' ? 7 : layout === 'combined' ? 9 : 10;
    this.fields = [...FIELDS.slice(0, n), 'method', 'path', 'protocol'];
  }

  field(name: string): string | undefined {
    const i = SLOT.get(name);
    const at = this.#at;
    if (i !== undefined) {
      const s = at[i * 2]!;
      return s === -1 ? undefined : this.#buf.toString('utf8', s, at[i * 2 + 1]);
    }
    if (name === 'method' || name === 'path' || name === 'protocol') {
      const req = this.field('request');
      return req === undefined ? undefined : requestPart(req, name);
    }
    if (name === 'code') return this.field('status');
    return undefined;
  }

  parse(t: Buffer, start: number, end: number): LineRecord | null {
    const at = this.#at;
    at.fill(-1);
    // remote_addr ident remote_user [time_local] "request" status bytes
    let p = start;
    for (let f = 0; f < 3; f++) {
      const q = scanTo(t, p, end, SPACE);
      if (q === -1 || q === p) return null;
      at[f * 2] = p;
      at[f * 2 + 1] = q;
      p = q + 1;
    }
    if (t[p] !== 91 /* [ */) return null;
    const close = scanTo(t, p + 1, end, 93 /* ] */);
    if (close === -1) return null;
    at[6] = p + 1;
    at[7] = close;
    p = close + 1;
    if (t[p] !== SPACE || t[p + 1] !== QUOTE) return null;
    const reqStart = p + 2;
    const reqEnd = scanQuoted(t, reqStart, end);
    if (reqEnd === -1) return null;
    at[8] = reqStart;
    at[9] = reqEnd;
    p = reqEnd + 1;
    if (p + 4 >= end || t[p] !== SPACE) return null;
    // status: three digits
    const a = t[p + 1]! - 48;
    const b = t[p + 2]! - 48;
    const c = t[p + 3]! - 48;
    if (!(a >= 1 && a <= 5 && b >= 0 && b <= 9 && c >= 0 && c <= 9) || t[p + 4] !== SPACE) return null;
    at[10] = p + 1;
    at[11] = p + 4;
    p += 5;
    // body bytes: digits or "-"
    let bytes = 0;
    const bStart = p;
    if (t[p] === 45 /* - */ && p < end) p++;
    else {
      while (p < end) {
        const d = t[p]! - 48;
        if (d < 0 || d > 9) break;
        bytes = bytes * 10 + d;
        p++;
      }
      if (p === bStart) return null;
    }
    at[12] = bStart;
    at[13] = p;
    let duration = Number.NaN;
    if (this.#layout !== 'common' && p < end) {
      // "referer" "user agent"
      if (t[p] !== SPACE || t[p + 1] !== QUOTE) return null;
      const rEnd = scanQuoted(t, p + 2, end);
      if (rEnd === -1) return null;
      at[14] = p + 2;
      at[15] = rEnd;
      p = rEnd + 1;
      if (t[p] !== SPACE || t[p + 1] !== QUOTE) return null;
      const uEnd = scanQuoted(t, p + 2, end);
      if (uEnd === -1) return null;
      at[16] = p + 2;
      at[17] = uEnd;
      p = uEnd + 1;
      if (this.#layout === 'web' && p < end) {
        // request time: seconds like 0.002, or "-"
        if (t[p] !== SPACE) return null;
        p++;
        at[18] = p;
        if (t[p] === 45 && p + 1 === end) p++;
        else {
          const q = scanDecimal(t, p, end);
          if (q === -1) return null;
          duration = decimal;
          p = q;
        }
        at[19] = p;
      }
    }
    if (p !== end) return null;
    this.#buf = t;
    this.status = a * 100 + b * 10 + c;
    this.bytes = bytes;
    this.duration = duration;
    this.method = methodAt(t, reqStart, reqEnd);
    return this;
  }
}

/** Index of the first `ch` in t[p, end), or -1. */
function scanTo(t: Buffer, p: number, end: number, ch: number): number {
  for (; p < end; p++) if (t[p] === ch) return p;
  return -1;
}

/** Index of the quote closing a field that starts at p (after its opening quote); \" does not close. */
function scanQuoted(t: Buffer, p: number, end: number): number {
  for (; p < end; p++) {
    const c = t[p];
    if (c === QUOTE) return p;
    if (c === BACKSLASH) p++;
  }
  return -1;
}

/** Value of the last scanDecimal (a module slot, so parsing a number allocates nothing). */
let decimal = 0;

/** Reads digits[.digits] at p, sets `decimal`, returns the end (or -1 if no digits). */
function scanDecimal(t: Buffer, p: number, end: number): number {
  let int = 0;
  const s = p;
  for (; p < end; p++) {
    const d = t[p]! - 48;
    if (d < 0 || d > 9) break;
    int = int * 10 + d;
  }
  if (p === s) return -1;
  if (t[p] !== 46 /* . */ || p + 1 >= end) {
    decimal = int;
    return p;
  }
  p++;
  let frac = 0;
  let scale = 1;
  const f = p;
  for (; p < end; p++) {
    const d = t[p]! - 48;
    if (d < 0 || d > 9) break;
    frac = frac * 10 + d;
    scale *= 10;
  }
  if (p === f) return -1;
  // (int * scale + frac) / scale is the correctly rounded value, as Number("0.002") is.
  decimal = (int * scale + frac) / scale;
  return p;
}

const METHOD_BYTES = METHODS.map((m) => Buffer.from(`${m} `));

/** Method index of the request starting at p (METHODS order; OTHER when unknown). */
function methodAt(t: Buffer, p: number, end: number): number {
  for (let i = 0; i < METHOD_BYTES.length; i++) {
    const m = METHOD_BYTES[i]!;
    if (p + m.length > end) continue;
    let k = 0;
    while (k < m.length && t[p + k] === m[k]) k++;
    if (k === m.length) return i;
  }
  return METHODS.length;
}
