// The combined family, one byte scanner (no regex; it reads the line in place and makes no string
// unless a custom metric asks for a field): common, combined, and combined followed by more:
// - ` 0.002` or ` -` at the end: the request time in seconds (web's log; nginx with $request_time);
// - Traefik's tail ` 12 "router" "http://10.0.0.1:80" 3ms`: its duration in milliseconds;
// - anything else (nginx's `main` adds "$http_x_forwarded_for"): extra fields, counted as combined.
// With `vhost`, each line starts with Apache's `%v:%p` (vhost_combined).
import { type LineRecord, METHODS, type ParseResult, type Parser, requestPart } from './record.ts';

export type Layout = 'common' | 'combined';

// Field slots: [start, end) offsets of each field in the text.
const FIELDS = [
  'vhost',
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
  'request_count',
  'router_name',
  'service_url',
  'duration_ms',
] as const;
const SLOT = new Map<string, number>(FIELDS.map((f, i) => [f, i]));
/** Where a field's [start, end) pair sits in the offsets array. */
const slotOf = (f: (typeof FIELDS)[number]) => FIELDS.indexOf(f) * 2;
const VHOST = slotOf('vhost');
const TIME = slotOf('time_local');
const REQUEST = slotOf('request');
const STATUS = slotOf('status');
const BYTES = slotOf('body_bytes_sent');
const REFERER = slotOf('http_referer');
const AGENT = slotOf('http_user_agent');
const REQUEST_TIME = slotOf('request_time');
const COUNT = slotOf('request_count');
const ROUTER = slotOf('router_name');
const SERVICE = slotOf('service_url');
const MS = slotOf('duration_ms');
const SPACE = 32;
const QUOTE = 34;
const BACKSLASH = 92;
const DASH = 45;

/** What the last line looked like, for the name of a detected format. */
type Shape = 'common' | 'combined' | 'traefik';

export interface CombinedOptions {
  layout: Layout;
  /** Lines start with Apache's `%v:%p` (vhost_combined). */
  vhost?: boolean;
  /** A fixed name (the format as set); otherwise named by the shape of each line. */
  name?: string;
}

export function commonParser(): Parser {
  return new CombinedScanner({ layout: 'common', name: 'common' });
}

/** combined, and combined followed by more (see the top of this file); common lines too. */
export function combinedParser(name?: string): Parser {
  return new CombinedScanner({ layout: 'combined', name });
}

export function vhostCombinedParser(name?: string): Parser {
  return new CombinedScanner({ layout: 'combined', vhost: true, name });
}

class CombinedScanner implements Parser, LineRecord {
  readonly fields: readonly string[];
  readonly hasDuration: boolean;
  readonly #layout: Layout;
  readonly #vhost: boolean;
  readonly #name: string | undefined;
  #shape: Shape = 'combined';
  method = 0;
  status = 0;
  bytes = 0;
  duration = Number.NaN;
  #buf: Buffer = Buffer.alloc(0);
  readonly #at = new Int32Array(FIELDS.length * 2);

  constructor(opts: CombinedOptions) {
    this.#layout = opts.layout;
    this.#vhost = opts.vhost === true;
    this.#name = opts.name;
    this.hasDuration = opts.layout === 'combined';
    const own = FIELDS.filter(
      (f, i) => (f !== 'vhost' || this.#vhost) && (opts.layout === 'combined' || i * 2 <= BYTES),
    );
    this.fields = [...own, 'method', 'path', 'protocol'];
  }

  get name(): string {
    if (this.#name !== undefined) return this.#name;
    if (this.#vhost) return 'vhost_combined';
    return this.#shape;
  }

  field(name: string): string | undefined {
    const i = SLOT.get(name);
    const at = this.#at;
    if (i !== undefined) {
      const s = at[i * 2]!;
      return s === -1 ? undefined : this.#buf.toString('utf8', s, at[i * 2 + 1]);
    }
    if (name === 'path') return this.#path();
    if (name === 'method' || name === 'protocol') {
      const req = this.field('request');
      return req === undefined ? undefined : requestPart(req, name);
    }
    if (name === 'code') return this.field('status');
    return undefined;
  }

  /** The path of the request line, decoded straight from the bytes (route templates read it per line). */
  #path(): string | undefined {
    const t = this.#buf;
    const start = this.#at[REQUEST]!;
    const end = this.#at[REQUEST + 1]!;
    let a = start;
    while (a < end && t[a] !== SPACE) a++;
    if (a === end) return undefined;
    let b = end - 1;
    while (b > a && t[b] !== SPACE) b--;
    return t.toString('utf8', a + 1, b > a ? b : end);
  }

  parse(t: Buffer, start: number, end: number): ParseResult {
    const at = this.#at;
    at.fill(-1);
    let p = start;
    if (this.#vhost) {
      // %v:%p — a host name and a port: one token.
      const q = scanTo(t, p, end, SPACE);
      if (q === -1 || q === p) return null;
      at[VHOST] = p;
      at[VHOST + 1] = q;
      p = q + 1;
    }
    // remote_addr ident remote_user [time_local] "request" status bytes
    for (let f = 1; f < 4; f++) {
      const q = scanTo(t, p, end, SPACE);
      if (q === -1 || q === p) return null;
      at[f * 2] = p;
      at[f * 2 + 1] = q;
      p = q + 1;
    }
    if (t[p] !== 91 /* [ */) return null;
    const close = scanTo(t, p + 1, end, 93 /* ] */);
    if (close === -1) return null;
    at[TIME] = p + 1;
    at[TIME + 1] = close;
    p = close + 1;
    if (t[p] !== SPACE || t[p + 1] !== QUOTE) return null;
    const reqStart = p + 2;
    const reqEnd = scanQuoted(t, reqStart, end);
    if (reqEnd === -1) return null;
    at[REQUEST] = reqStart;
    at[REQUEST + 1] = reqEnd;
    p = reqEnd + 1;
    if (p + 4 >= end || t[p] !== SPACE) return null;
    // status: three digits
    const a = t[p + 1]! - 48;
    const b = t[p + 2]! - 48;
    const c = t[p + 3]! - 48;
    if (!(a >= 1 && a <= 5 && b >= 0 && b <= 9 && c >= 0 && c <= 9) || t[p + 4] !== SPACE) return null;
    at[STATUS] = p + 1;
    at[STATUS + 1] = p + 4;
    p += 5;
    // body bytes: digits or "-"
    let bytes = 0;
    const bStart = p;
    if (t[p] === DASH && p < end) p++;
    else {
      while (p < end) {
        const d = t[p]! - 48;
        if (d < 0 || d > 9) break;
        bytes = bytes * 10 + d;
        p++;
      }
      if (p === bStart) return null;
    }
    at[BYTES] = bStart;
    at[BYTES + 1] = p;
    let duration = Number.NaN;
    let shape: Shape = 'common';
    if (this.#layout === 'combined' && p < end) {
      // "referer" "user agent"
      if (t[p] !== SPACE || t[p + 1] !== QUOTE) return null;
      const rEnd = scanQuoted(t, p + 2, end);
      if (rEnd === -1) return null;
      at[REFERER] = p + 2;
      at[REFERER + 1] = rEnd;
      p = rEnd + 1;
      if (t[p] !== SPACE || t[p + 1] !== QUOTE) return null;
      const uEnd = scanQuoted(t, p + 2, end);
      if (uEnd === -1) return null;
      at[AGENT] = p + 2;
      at[AGENT + 1] = uEnd;
      p = uEnd + 1;
      shape = 'combined';
      if (p < end) {
        if (t[p] !== SPACE) return null;
        const tail = this.#tail(t, p + 1, end);
        if (tail === 'traefik') {
          shape = 'traefik';
          duration = decimal / 1000;
        } else if (tail === 'seconds') duration = decimal;
        p = end; // anything else after the user agent: extra fields
      }
    }
    if (p !== end) return null;
    this.#buf = t;
    this.#shape = shape;
    this.status = a * 100 + b * 10 + c;
    this.bytes = bytes;
    this.duration = duration;
    this.method = methodAt(t, reqStart, reqEnd);
    return this;
  }

  /**
   * What follows the user agent, from p (after its space): the request time in seconds (a
   * decimal with a point, or "-", and nothing after), Traefik's tail, or extra fields. Sets
   * `decimal` to the seconds or milliseconds.
   */
  #tail(t: Buffer, p: number, end: number): 'seconds' | 'traefik' | 'extra' {
    const at = this.#at;
    if (t[p] === DASH && p + 1 === end) {
      at[REQUEST_TIME] = p;
      at[REQUEST_TIME + 1] = end;
      decimal = Number.NaN;
      return 'seconds';
    }
    const q = scanDecimal(t, p, end);
    if (q === end && sawPoint) {
      at[REQUEST_TIME] = p;
      at[REQUEST_TIME + 1] = end;
      return 'seconds';
    }
    // Traefik: <requests> "<router>" "<service URL>" <ms>ms (a missing name is "-", quoted or not)
    if (q === -1 || sawPoint || t[q] !== SPACE) return 'extra';
    const count = [p, q];
    let r = q + 1;
    const names: number[] = [];
    for (let k = 0; k < 2; k++) {
      const s = r;
      if (t[r] === QUOTE) {
        const e = scanQuoted(t, r + 1, end);
        if (e === -1) return 'extra';
        names.push(s + 1, e);
        r = e + 1;
      } else if (t[r] === DASH) {
        names.push(s, s + 1);
        r++;
      } else return 'extra';
      if (t[r] !== SPACE) return 'extra';
      r++;
    }
    const m = scanDecimal(t, r, end);
    if (m === -1 || sawPoint || m + 2 !== end || t[m] !== 109 /* m */ || t[m + 1] !== 115 /* s */)
      return 'extra';
    at[COUNT] = count[0]!;
    at[COUNT + 1] = count[1]!;
    at[ROUTER] = names[0]!;
    at[ROUTER + 1] = names[1]!;
    at[SERVICE] = names[2]!;
    at[SERVICE + 1] = names[3]!;
    at[MS] = r;
    at[MS + 1] = m;
    return 'traefik';
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
/** Whether the last scanDecimal read a fraction. */
let sawPoint = false;

/** Reads digits[.digits] at p, sets `decimal`, returns the end (or -1 if no digits). */
function scanDecimal(t: Buffer, p: number, end: number): number {
  let int = 0;
  const s = p;
  for (; p < end; p++) {
    const d = t[p]! - 48;
    if (d < 0 || d > 9) break;
    int = int * 10 + d;
  }
  sawPoint = false;
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
  sawPoint = true;
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
