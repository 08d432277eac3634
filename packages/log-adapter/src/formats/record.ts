// What every format gives the pipeline: a parser that fills one reused record per line.
// The hot fields (method, status, bytes, duration) are ready-made; any other field is read on demand.
import { sumValues } from './multi-value.ts';

export const METHODS = [
  'GET',
  'POST',
  'HEAD',
  'PUT',
  'DELETE',
  'PATCH',
  'OPTIONS',
  'CONNECT',
  'TRACE',
] as const;
export const OTHER_METHOD = 'OTHER';
/** Index of OTHER in method order: METHODS.length. */
export const METHOD_COUNT = METHODS.length + 1;
const METHOD_INDEX = new Map<string, number>(METHODS.map((m, i) => [m, i]));

export interface LineRecord {
  /** Index into METHODS, or METHODS.length for OTHER (junk can't explode the label). */
  method: number;
  /** HTTP status 100–599. */
  status: number;
  /** Response body bytes (0 when "-"). */
  bytes: number;
  /** Request duration in seconds; NaN when the line has none. */
  duration: number;
  /** Any named field (e.g. path, http_user_agent), or undefined. */
  field(name: string): string | undefined;
}

/**
 * What a parser returns for a line of its format that is not a request (the ambassador's component
 * log and TCP connections, Caddy's other loggers): counted as ignored, never as unparsed.
 */
export const NOT_A_REQUEST: unique symbol = Symbol('not a request');
export type ParseResult = LineRecord | null | typeof NOT_A_REQUEST;

export interface Parser {
  /** Field names this format can give (for validating the custom-metrics config). */
  readonly fields: readonly string[];
  /** Whether lines carry a request time, so the duration histogram is exported. */
  readonly hasDuration: boolean;
  /**
   * Parses the line buf[start, end) (UTF-8); fills and returns the shared record, or null when it
   * does not match. The record's fields are valid until the next call.
   */
  parse(buf: Buffer, start: number, end: number): ParseResult;
  /** The name of the format of the line just parsed (formats with variants: combined, traefik…). */
  readonly name: string;
}

export function methodIndex(method: string): number {
  return METHOD_INDEX.get(method) ?? METHODS.length;
}

export function methodName(index: number): string {
  return METHODS[index] ?? OTHER_METHOD;
}

/** Method of a request line ("GET /a HTTP/1.1") without slicing it. */
export function methodOfRequest(request: string): number {
  for (let i = 0; i < METHODS.length; i++) {
    const m = METHODS[i]!;
    if (request.startsWith(m) && request.charCodeAt(m.length) === 32) return i;
  }
  return METHODS.length;
}

/** A 3-digit status 100–599 as a number, or -1. */
export function parseStatus(s: string | undefined): number {
  if (s === undefined || s.length !== 3) return -1;
  const a = s.charCodeAt(0) - 48;
  const b = s.charCodeAt(1) - 48;
  const c = s.charCodeAt(2) - 48;
  if (a < 1 || a > 5 || b < 0 || b > 9 || c < 0 || c > 9) return -1;
  return a * 100 + b * 10 + c;
}

/** Bytes from "1234" or "-"; 0 for "-" or anything else. */
export function parseBytes(s: string | undefined): number {
  if (s === undefined || s === '-' || s === '') return 0;
  const n = Number(s);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

/** Seconds from "0.002" or "-"; NaN when absent. A list ("0.1, 0.2") is summed (see multi-value.ts). */
export function parseSeconds(s: string | undefined): number {
  return sumValues(s);
}

/** path and protocol from a request line. */
export function requestPart(request: string, part: 'method' | 'path' | 'protocol'): string | undefined {
  const a = request.indexOf(' ');
  if (a === -1) return undefined;
  if (part === 'method') return request.slice(0, a);
  const b = request.lastIndexOf(' ');
  if (part === 'path') return b > a ? request.slice(a + 1, b) : request.slice(a + 1);
  return b > a ? request.slice(b + 1) : undefined;
}
