// Preconditions (RFC 9110 §13): If-Match / If-Unmodified-Since → 412, If-None-Match /
// If-Modified-Since → 304, and If-Range for ranges.
import type { IncomingHttpHeaders } from 'node:http';

export type Precondition = 'ok' | 'not-modified' | 'failed';

function listHas(header: string, etag: string, weak: boolean): boolean {
  if (header.trim() === '*') return true;
  const want = weak ? stripWeak(etag) : etag;
  for (const raw of header.split(',')) {
    const tag = raw.trim();
    if (weak ? stripWeak(tag) === want : tag === want) return true;
  }
  return false;
}

const stripWeak = (tag: string) => (tag.startsWith('W/') ? tag.slice(2) : tag);

/** Seconds since the epoch of an HTTP date, or NaN. */
function httpDate(value: string | undefined): number {
  return value === undefined ? Number.NaN : Math.floor(Date.parse(value) / 1000);
}

export function evaluatePreconditions(h: IncomingHttpHeaders, etag: string, mtimeMs: number): Precondition {
  const mtime = Math.floor(mtimeMs / 1000);
  const ifMatch = h['if-match'];
  if (ifMatch !== undefined) {
    if (!listHas(ifMatch, etag, false)) return 'failed';
  } else {
    const ius = httpDate(h['if-unmodified-since']);
    if (!Number.isNaN(ius) && mtime > ius) return 'failed';
  }
  const inm = h['if-none-match'];
  if (inm !== undefined) return listHas(inm, etag, true) ? 'not-modified' : 'ok';
  const ims = httpDate(h['if-modified-since']);
  if (!Number.isNaN(ims) && mtime <= ims) return 'not-modified';
  return 'ok';
}

/** If-Range: the range applies only if the validator names this exact version (strong ETag or date). */
export function ifRangeHolds(h: IncomingHttpHeaders, etag: string, lastModified: string): boolean {
  const v = h['if-range'];
  if (v === undefined) return true;
  const t = String(v).trim();
  if (t.startsWith('"')) return t === etag;
  if (t.startsWith('W/')) return false;
  return t === lastModified;
}
