// Writes one file version as an HTTP response: validators, 304/412, Range/If-Range → 206/416,
// HEAD, and the body from memory (a cache hit) or streamed from an open file descriptor.
import { closeSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BODY_BYTES, type CountedResponse } from './body-bytes.ts';
import { evaluatePreconditions, ifRangeHolds } from './conditional.ts';
import type { FileVersion } from './file-cache.ts';
import { parseRange } from './range.ts';
import { type ShortBody, streamFile } from './stream-body.ts';

export type Encoding = '' | 'br' | 'gzip';

/** One representation of a URL: the file itself or its .br/.gz sibling. */
export interface Variant {
  readonly encoding: Encoding;
  readonly version: FileVersion;
  readonly etag: string;
  readonly lastModified: string;
  /** Every header of a 200 except Content-Length. */
  readonly headers: Readonly<Record<string, string>>;
  /** The same plus Content-Length: a whole-file 200 sends this object as it is. */
  readonly full: Readonly<Record<string, string>>;
  /** The bytes, when held in memory. */
  readonly body?: Buffer;
}

/** What a URL maps to in one snapshot. */
export interface Resource {
  readonly identity: Variant;
  readonly br?: Variant;
  readonly gzip?: Variant;
  /** Memory held, for the cache budget. */
  readonly bytes: number;
  /** When a full lookup last confirmed this set of files (the .br/.gz siblings present). */
  checkedAt: number;
}

/** Strong ETag from inode, mtime and size: a sync that keeps size and mtime still changes the inode. */
function etagOf(v: FileVersion): string {
  return `"${v.ino.toString(16)}-${Math.floor(v.mtimeMs).toString(16)}-${v.size.toString(16)}"`;
}

export function makeVariant(
  encoding: Encoding,
  version: FileVersion,
  base: Readonly<Record<string, string>>,
  body?: Buffer,
): Variant {
  const etag = etagOf(version);
  const lastModified = new Date(version.mtimeMs).toUTCString();
  const headers: Record<string, string> = {
    ...base,
    etag,
    'last-modified': lastModified,
    'accept-ranges': 'bytes',
  };
  if (encoding) headers['content-encoding'] = encoding;
  const full = { ...headers, 'content-length': String(version.size) };
  const v = { encoding, version, etag, lastModified, headers, full };
  return body ? { ...v, body } : v;
}

const acceptCache = new Map<string, { br: boolean; gzip: boolean }>();

/** Which encodings an Accept-Encoding header allows (q=0 refuses). Memoized: clients send few distinct values. */
export function acceptedEncodings(header: string | undefined): { br: boolean; gzip: boolean } {
  if (!header) return { br: false, gzip: false };
  let r = acceptCache.get(header);
  if (r) return r;
  r = { br: false, gzip: false };
  for (const part of header.toLowerCase().split(',')) {
    const [name, ...params] = part.split(';').map((s) => s.trim());
    const q = params.find((p) => p.startsWith('q='));
    if (q !== undefined && Number(q.slice(2)) === 0) continue;
    if (name === 'br') r.br = true;
    else if (name === 'gzip' || name === 'x-gzip') r.gzip = true;
    else if (name === '*') {
      r.br = true;
      r.gzip = true;
    }
  }
  if (acceptCache.size > 64) acceptCache.clear();
  acceptCache.set(header, r);
  return r;
}

export function chooseVariant(r: Resource, acceptEncoding: string | undefined): Variant {
  if (!r.br && !r.gzip) return r.identity;
  const ok = acceptedEncodings(acceptEncoding);
  if (r.br && ok.br) return r.br;
  if (r.gzip && ok.gzip) return r.gzip;
  return r.identity;
}

function head(res: CountedResponse, status: number, headers: Record<string, string | number>, bytes: number) {
  (res as CountedResponse)[BODY_BYTES] = bytes;
  res.writeHead(status, headers);
}

/**
 * Answers with variant `v`. `status` 200 applies preconditions and ranges; other statuses (a custom
 * 404 page, the SPA fallback) send the whole body. `fd`, when given, is the open file to stream
 * (closed here on every path; `onShort` hears of a file that ended early, see stream-body.ts);
 * otherwise `v.body` is sent.
 */
export function sendVariant(
  req: IncomingMessage,
  res: ServerResponse,
  v: Variant,
  opts: { status?: number; fd?: number; onShort?: (s: ShortBody) => void } = {},
): void {
  const status = opts.status ?? 200;
  const size = v.version.size;
  const isHead = req.method === 'HEAD';
  let start = 0;
  let end = size - 1;
  let code = status;
  let headers: Record<string, string | number> = v.headers;
  if (status === 200) {
    const pre = evaluatePreconditions(req.headers, v.etag, v.lastModified, v.version.mtimeMs);
    if (pre !== 'ok') {
      closeFd(opts.fd);
      if (pre === 'not-modified') {
        // A 304 carries the validators, Cache-Control and Vary, not the body's own headers.
        const { 'content-type': _t, 'accept-ranges': _a, 'content-encoding': _e, ...h304 } = v.headers;
        head(res, 304, h304, 0);
      } else head(res, 412, { ...securityOnly(v.headers), 'content-length': 0 }, 0);
      res.end();
      return;
    }
    if (req.headers.range !== undefined && ifRangeHolds(req.headers, v.etag, v.lastModified)) {
      const range = parseRange(req.headers.range, size);
      if (range.kind === 'unsatisfiable') {
        closeFd(opts.fd);
        const body = 'range not satisfiable\n';
        head(
          res,
          416,
          {
            ...securityOnly(v.headers),
            'content-type': 'text/plain; charset=utf-8',
            'content-range': `bytes */${size}`,
            'content-length': body.length,
          },
          isHead ? 0 : body.length,
        );
        res.end(body);
        return;
      }
      if (range.kind === 'partial') {
        start = range.start;
        end = range.end;
        code = 206;
        headers = { ...v.headers, 'content-range': `bytes ${start}-${end}/${size}` };
      }
    }
  } else {
    const { etag: _e, 'last-modified': _l, 'accept-ranges': _a, ...plain } = v.headers;
    headers = { ...plain, 'cache-control': 'no-store' };
  }
  const length = end - start + 1;
  if (headers === v.headers) headers = v.full;
  else headers['content-length'] = length;
  head(res, code, headers, isHead ? 0 : length);
  if (isHead || length === 0) {
    closeFd(opts.fd);
    res.end();
    return;
  }
  if (opts.fd === undefined) {
    const body = v.body!;
    res.end(start === 0 && length === body.length ? body : body.subarray(start, end + 1));
    return;
  }
  streamFile(res, opts.fd, start, end, opts.onShort ?? (() => {}));
}

function closeFd(fd: number | undefined): void {
  if (fd !== undefined) closeSync(fd);
}

const SECURITY = ['x-content-type-options', 'x-frame-options', 'referrer-policy', 'content-security-policy'];
function securityOnly(h: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of SECURITY) if (h[k] !== undefined) out[k] = h[k];
  return out;
}
