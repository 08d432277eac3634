// A parser over one regular expression with numbered groups, each group named by a field.
// nginx log_format strings (on V8's RegExp: generated, each group bounded by the next literal) and
// operator-written regex: formats (on RE2, see pattern.ts) compile to this.
import {
  type LineRecord,
  methodIndex,
  methodOfRequest,
  type ParseResult,
  type Parser,
  parseBytes,
  parseSeconds,
  parseStatus,
  requestPart,
} from './record.ts';

/** Runs the expression on a line: its groups by number ([0] the whole match), or null. */
export type Exec = (text: string) => ArrayLike<string | undefined> | null;

/** Which fields feed the hot values, by group index (-1 = absent). */
interface Slots {
  method: number;
  request: number;
  status: number;
  bytes: number;
  duration: number;
}

const DURATION_FIELDS = ['request_time', 'duration', 'upstream_response_time'];
const BYTES_FIELDS = ['body_bytes_sent', 'bytes_sent', 'bytes', 'size'];

export class RegexParser implements Parser {
  readonly fields: readonly string[];
  readonly hasDuration: boolean;
  readonly name: string;
  readonly #exec: Exec;
  readonly #index: Map<string, number>;
  readonly #slots: Slots;
  readonly #record: RegexRecord;

  /** groupNames[i] names group i+1. */
  constructor(exec: Exec, groupNames: readonly string[], name: string) {
    this.#exec = exec;
    this.name = name;
    this.#index = new Map();
    groupNames.forEach((n, i) => {
      if (!this.#index.has(n)) this.#index.set(n, i + 1);
    });
    const slot = (names: readonly string[]) => {
      for (const n of names) {
        const i = this.#index.get(n);
        if (i !== undefined) return i;
      }
      return -1;
    };
    this.#slots = {
      method: slot(['method', 'request_method']),
      request: slot(['request']),
      status: slot(['status', 'code']),
      bytes: slot(BYTES_FIELDS),
      duration: slot(DURATION_FIELDS),
    };
    const derived = this.#slots.request !== -1 ? ['method', 'path', 'protocol'] : [];
    if (this.#index.has('request_uri') || this.#index.has('uri')) derived.push('path');
    if (this.#index.has('request_method')) derived.push('method');
    this.fields = [...new Set([...groupNames, ...derived, 'status', 'method'])];
    this.hasDuration = this.#slots.duration !== -1;
    this.#record = new RegexRecord(this.#index);
  }

  parse(buf: Buffer, start: number, end: number): ParseResult {
    const m = this.#exec(buf.toString('utf8', start, end));
    if (m === null) return null;
    const s = this.#slots;
    const status = parseStatus(m[s.status]);
    if (status === -1) return null;
    const r = this.#record;
    r.m = m;
    r.status = status;
    r.method =
      s.method !== -1
        ? methodIndex(m[s.method]!)
        : s.request !== -1
          ? methodOfRequest(m[s.request] ?? '')
          : methodIndex('');
    r.bytes = s.bytes === -1 ? 0 : parseBytes(m[s.bytes]);
    r.duration = s.duration === -1 ? Number.NaN : parseSeconds(m[s.duration]);
    return r;
  }
}

class RegexRecord implements LineRecord {
  m: ArrayLike<string | undefined> | null = null;
  method = 0;
  status = 0;
  bytes = 0;
  duration = Number.NaN;
  readonly #index: Map<string, number>;
  constructor(index: Map<string, number>) {
    this.#index = index;
  }
  field(name: string): string | undefined {
    const i = this.#index.get(name);
    if (i !== undefined) return this.m?.[i];
    if (name === 'method' || name === 'path' || name === 'protocol') {
      if (name === 'path') {
        const uri = this.field('request_uri') ?? this.field('uri');
        if (uri !== undefined) return uri;
      }
      if (name === 'method') {
        const rm = this.field('request_method');
        if (rm !== undefined) return rm;
      }
      const req = this.field('request');
      return req === undefined ? undefined : requestPart(req, name);
    }
    if (name === 'code') return this.field('status');
    return undefined;
  }
}
