// JSON lines (one object per line) with a field mapping: which key holds the method, status,
// bytes, duration, path… Dotted keys reach into nested objects (`req.method`).
import {
  type LineRecord,
  methodIndex,
  methodOfRequest,
  type Parser,
  parseBytes,
  parseSeconds,
  parseStatus,
  requestPart,
} from './record.ts';

export interface JsonMapping {
  /** Field name → key in the JSON object (dotted for nested). */
  fields: Record<string, string>;
  /** Unit of the duration field: seconds (nginx's $request_time) or milliseconds (pino-http). */
  durationUnit: 's' | 'ms';
}

/** Keys tried when the mapping names none: nginx's escape=json names, then common logger names. */
export const DEFAULT_JSON_FIELDS: Record<string, readonly string[]> = {
  method: ['method', 'request_method'],
  request: ['request'],
  path: ['path', 'uri', 'request_uri', 'url'],
  status: ['status', 'code', 'status_code'],
  body_bytes_sent: ['body_bytes_sent', 'bytes', 'size', 'bytes_sent'],
  request_time: ['request_time', 'duration'],
};

export function jsonParser(mapping: JsonMapping): Parser {
  const keys = new Map<string, string[]>();
  for (const [field, candidates] of Object.entries(DEFAULT_JSON_FIELDS)) keys.set(field, [...candidates]);
  for (const [field, key] of Object.entries(mapping.fields)) keys.set(field, [key]);
  const record = new JsonRecord(keys);
  const scale = mapping.durationUnit === 'ms' ? 1 / 1000 : 1;
  return {
    fields: [...keys.keys()],
    hasDuration: true,
    parse(buf: Buffer, start: number, end: number): LineRecord | null {
      if (buf[start] !== 123 /* { */) return null;
      let obj: unknown;
      try {
        obj = JSON.parse(buf.toString('utf8', start, end));
      } catch {
        return null;
      }
      if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return null;
      record.obj = obj as Record<string, unknown>;
      const status = parseStatus(record.field('status'));
      if (status === -1) return null;
      record.status = status;
      const method = record.rawField('method');
      if (method !== undefined) record.method = methodIndex(method);
      else record.method = methodOfRequest(record.rawField('request') ?? '');
      record.bytes = parseBytes(record.field('body_bytes_sent'));
      record.duration = parseSeconds(record.field('request_time')) * scale;
      return record;
    },
  };
}

class JsonRecord implements LineRecord {
  obj: Record<string, unknown> = {};
  method = 0;
  status = 0;
  bytes = 0;
  duration = Number.NaN;
  readonly #keys: Map<string, string[]>;
  constructor(keys: Map<string, string[]>) {
    this.#keys = keys;
  }

  rawField(name: string): string | undefined {
    for (const key of this.#keys.get(name) ?? [name]) {
      const v = lookup(this.obj, key);
      if (v !== undefined && v !== null && typeof v !== 'object') return String(v);
    }
    return undefined;
  }

  field(name: string): string | undefined {
    const v = this.rawField(name);
    if (v !== undefined) return v;
    if (name === 'path' || name === 'protocol') {
      const req = this.rawField('request');
      return req === undefined ? undefined : requestPart(req, name);
    }
    if (name === 'code') return this.field('status');
    return undefined;
  }
}

function lookup(obj: Record<string, unknown>, key: string): unknown {
  if (key in obj) return obj[key];
  if (!key.includes('.')) return undefined;
  let cur: unknown = obj;
  for (const part of key.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}
