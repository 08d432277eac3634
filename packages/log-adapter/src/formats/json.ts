// JSON lines (one object per line). Three kinds:
// - json: any object, with a field mapping (which key holds the method, status, bytes, duration,
//   path…; dotted keys reach into nested objects: `req.method`) from ADAPTER_CONFIG;
// - caddy: Caddy's access log (logger "http.log.access…", the request as a nested object, duration
//   in seconds); its other lines (start-up, TLS…) are not requests;
// - ambassador: our ambassador's stdout, where `"log":"access"` lines are requests (duration in ms)
//   and the rest is its component log and TCP connections, not requests.
import {
  type LineRecord,
  methodIndex,
  methodOfRequest,
  NOT_A_REQUEST,
  type ParseResult,
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

export type JsonKind = 'json' | 'caddy' | 'ambassador';

/** Keys tried when the mapping names none: nginx's escape=json names, then common logger names. */
export const DEFAULT_JSON_FIELDS: Record<string, readonly string[]> = {
  method: ['method', 'request_method'],
  request: ['request'],
  path: ['path', 'uri', 'request_uri', 'url'],
  status: ['status', 'code', 'status_code'],
  body_bytes_sent: ['body_bytes_sent', 'bytes', 'size', 'bytes_sent'],
  request_time: ['request_time', 'duration'],
};

const CADDY: JsonMapping = {
  fields: {
    method: 'request.method',
    path: 'request.uri',
    protocol: 'request.proto',
    host: 'request.host',
    remote_addr: 'request.remote_ip',
    http_user_agent: 'request.headers.User-Agent',
    http_referer: 'request.headers.Referer',
    status: 'status',
    body_bytes_sent: 'size',
    request_time: 'duration',
  },
  durationUnit: 's',
};

const AMBASSADOR: JsonMapping = {
  fields: { body_bytes_sent: 'bytes', request_time: 'durationMs' },
  durationUnit: 'ms',
};

const isCaddyAccess = (o: Record<string, unknown>) =>
  typeof o.logger === 'string' &&
  o.logger.startsWith('http.log.access') &&
  o.request !== null &&
  typeof o.request === 'object';
/** Caddy's other lines (zap's shape: ts, level, msg; a logger or none) say nothing of requests. */
const isCaddyOther = (o: Record<string, unknown>) =>
  typeof o.ts === 'number' && typeof o.msg === 'string' && !('status' in o);
const isAmbassador = (o: Record<string, unknown>) => o.component === 'ambassador';

export interface JsonParser extends Parser {
  /** A new mapping from a reloaded ADAPTER_CONFIG (the json kind only). */
  remap(mapping: JsonMapping): void;
}

/**
 * `exclusive`: leave Caddy's and the ambassador's lines to their own parsers (format detection
 * tries every kind; a line must be read by one only).
 */
export function jsonParser(
  mapping: JsonMapping,
  kind: JsonKind = 'json',
  opts: { name?: string; exclusive?: boolean } = {},
): JsonParser {
  const record = new JsonRecord();
  let perSecond = 1;
  const remap = (m: JsonMapping) => {
    const keys = new Map<string, string[]>();
    for (const [field, candidates] of Object.entries(DEFAULT_JSON_FIELDS)) keys.set(field, [...candidates]);
    for (const [field, key] of Object.entries(m.fields)) keys.set(field, [key]);
    record.keys = keys;
    perSecond = m.durationUnit === 'ms' ? 1000 : 1;
  };
  remap(kind === 'caddy' ? CADDY : kind === 'ambassador' ? AMBASSADOR : mapping);
  const name = opts.name ?? kind;
  return {
    get fields() {
      return [...record.keys.keys()];
    },
    hasDuration: true,
    name,
    remap(m) {
      if (kind === 'json') remap(m);
    },
    parse(buf: Buffer, start: number, end: number): ParseResult {
      if (buf[start] !== 123 /* { */) return null;
      let obj: unknown;
      try {
        obj = JSON.parse(buf.toString('utf8', start, end));
      } catch {
        return null;
      }
      if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return null;
      const o = obj as Record<string, unknown>;
      if (kind === 'caddy') {
        if (!isCaddyAccess(o)) return isCaddyOther(o) ? NOT_A_REQUEST : null;
      } else if (kind === 'ambassador') {
        if (!isAmbassador(o)) return null;
        // TCP connections have no method; they are not HTTP requests.
        if (o.log !== 'access' || typeof o.method !== 'string') return NOT_A_REQUEST;
      } else if (opts.exclusive && (isCaddyAccess(o) || isAmbassador(o))) return null;
      record.obj = o;
      const status = statusOf(record.field('status'), kind);
      if (status === -1) return null;
      record.status = status;
      const method = record.rawField('method');
      if (method !== undefined) record.method = methodIndex(method);
      else record.method = methodOfRequest(record.rawField('request') ?? '');
      record.bytes = parseBytes(record.field('body_bytes_sent'));
      record.duration = parseSeconds(record.field('request_time')) / perSecond;
      return record;
    },
  };
}

/** The ambassador logs a response cut short as "200 (aborted)": the status was sent, it counts. */
function statusOf(s: string | undefined, kind: JsonKind): number {
  if (kind === 'ambassador' && s !== undefined && s.endsWith(' (aborted)')) return parseStatus(s.slice(0, 3));
  return parseStatus(s);
}

class JsonRecord implements LineRecord {
  obj: Record<string, unknown> = {};
  keys = new Map<string, string[]>();
  method = 0;
  status = 0;
  bytes = 0;
  duration = Number.NaN;

  rawField(name: string): string | undefined {
    for (const key of this.keys.get(name) ?? [name]) {
      let v = lookup(this.obj, key);
      // Caddy logs each header as a list of values: the first one.
      if (Array.isArray(v)) v = v[0];
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
