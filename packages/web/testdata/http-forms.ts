// The forms of RFC 9110 and 9112 the conformance test sends to nginx and web, generated rather than
// listed: byte ranges (first-last, open, suffix, at and around the edges of a file of any size,
// and malformed), preconditions (validators that match and that do not, alone and together,
// with and without a range) and request lines (versions × targets × Host forms, and methods).
// Node builtins only.

const unique = <T>(xs: T[]): T[] => [...new Set(xs)];

/** The offsets that matter for a file of `size` bytes: its edges, its middle, and past its end. */
export function offsets(size: number): number[] {
  return unique([0, 1, Math.floor(size / 2), size - 2, size - 1, size, size + 1, size + 100])
    .filter((n) => n >= 0)
    .sort((a, b) => a - b);
}

/** Every Range header worth sending for a file of `size` bytes. */
export function rangeForms(size: number): string[] {
  const at = offsets(size);
  const forms: string[] = [];
  for (const first of at) {
    forms.push(`bytes=${first}-`); // open
    for (const last of at) forms.push(`bytes=${first}-${last}`); // first-last, also last < first
  }
  for (const n of at) forms.push(`bytes=-${n}`); // suffix, also -0
  forms.push(
    'bytes=',
    'bytes=-',
    'bytes=x-y',
    'bytes=0-1-2',
    'Bytes=0-1', // the unit is case-insensitive
    'items=0-1', // an unknown unit: ignored
    'bytes = 0-1',
    'bytes= 0-1',
    'bytes=0-1,',
    'bytes=0-1,2-3', // several ranges
    'bytes=0-0,-1',
    'bytes=00-01',
    `bytes=0-${'9'.repeat(25)}`, // past any file, past 2^64
    `bytes=-${'9'.repeat(25)}`,
  );
  return unique(forms);
}

/** A validator described by what it is relative to the file: each server fills in its own. */
export type Tag = 'own' | 'weak-own' | 'other' | 'star' | 'list-with-own' | 'list-without-own';
export type When = 'exact' | 'earlier' | 'later' | 'invalid';

export const TAGS: readonly Tag[] = ['own', 'weak-own', 'other', 'star', 'list-with-own', 'list-without-own'];
export const WHENS: readonly When[] = ['exact', 'earlier', 'later', 'invalid'];

export function tagValue(tag: Tag, own: string): string {
  switch (tag) {
    case 'own':
      return own;
    case 'weak-own':
      return `W/${own}`;
    case 'other':
      return '"not-this-one"';
    case 'star':
      return '*';
    case 'list-with-own':
      return `"a", ${own}, "b"`;
    case 'list-without-own':
      return '"a", "b"';
  }
}

export function dateValue(when: When, mtimeSeconds: number): string {
  const at = (s: number) => new Date(s * 1000).toUTCString();
  switch (when) {
    case 'exact':
      return at(mtimeSeconds);
    case 'earlier':
      return at(mtimeSeconds - 3600);
    case 'later':
      return at(mtimeSeconds + 3600);
    case 'invalid':
      return 'not a date';
  }
}

/** Precondition headers as descriptions: { 'if-none-match': 'own' } means "this server's ETag". */
export type Precondition = Partial<{
  'if-match': Tag;
  'if-none-match': Tag;
  'if-modified-since': When;
  'if-unmodified-since': When;
}>;

/** Each precondition alone, and the pairs RFC 9110 §13.2.2 orders (which one is evaluated first). */
export function preconditionForms(): Precondition[] {
  const forms: Precondition[] = [];
  for (const t of TAGS) forms.push({ 'if-none-match': t }, { 'if-match': t });
  for (const w of WHENS) forms.push({ 'if-modified-since': w }, { 'if-unmodified-since': w });
  for (const t of TAGS) for (const w of WHENS) forms.push({ 'if-none-match': t, 'if-modified-since': w });
  for (const t of TAGS) for (const w of WHENS) forms.push({ 'if-match': t, 'if-unmodified-since': w });
  for (const a of TAGS) for (const b of TAGS) forms.push({ 'if-match': a, 'if-none-match': b });
  return forms;
}

/** If-Range values: an ETag or a date, matching or not. */
export type IfRange = Tag | When;
export const IF_RANGES: readonly IfRange[] = ['own', 'weak-own', 'other', 'exact', 'earlier', 'later', 'invalid'];

export function ifRangeValue(v: IfRange, own: string, mtimeSeconds: number): string {
  return (WHENS as readonly string[]).includes(v)
    ? dateValue(v as When, mtimeSeconds)
    : tagValue(v as Tag, own);
}

export type HostForm = 'one' | 'none' | 'two' | 'empty' | 'invalid';
export const HOST_FORMS: readonly HostForm[] = ['one', 'none', 'two', 'empty', 'invalid'];

export const VERSIONS = [
  'HTTP/1.1',
  'HTTP/1.0',
  'HTTP/0.9',
  'HTTP/2.0',
  'HTTP/3.0',
  'HTTP/1.2',
  'HTTP/10.1',
  'http/1.1',
  'HTTP/1.x',
  'HTTP/01.1',
  '', // no version: an HTTP/0.9 simple request
] as const;

export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'FOO', 'get'] as const;

/** Request targets (RFC 9112 §3.2) for a file at `path`: origin, absolute, authority, asterisk. */
export function targetForms(path: string): string[] {
  return [path, `${path}?q=1`, `http://example.test${path}`, `HTTP://EXAMPLE.TEST${path}`, 'example.test:80', '*', path.slice(1)];
}

export interface RequestLine {
  method: string;
  target: string;
  version: string;
  host: HostForm;
}

/** The raw bytes of a request: its line, its Host lines, and Connection: close. */
export function rawRequest(r: RequestLine): string {
  const line = r.version === '' ? `${r.method} ${r.target}` : `${r.method} ${r.target} ${r.version}`;
  const host = { one: 'Host: example.test\r\n', none: '', two: 'Host: a\r\nHost: b\r\n', empty: 'Host:\r\n', invalid: 'Host: a/b\r\n' }[r.host];
  return `${line}\r\n${host}Connection: close\r\n\r\n`;
}

/** versions × targets × Host forms for GET and HEAD, and every method with each common version. */
export function requestLineForms(path: string): RequestLine[] {
  const forms: RequestLine[] = [];
  for (const method of ['GET', 'HEAD'])
    for (const version of VERSIONS)
      for (const target of targetForms(path))
        for (const host of HOST_FORMS) forms.push({ method, target, version, host });
  for (const method of METHODS)
    for (const version of ['HTTP/1.1', 'HTTP/1.0'])
      for (const target of [path, '*']) forms.push({ method, target, version, host: 'one' });
  return forms;
}
