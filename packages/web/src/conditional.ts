// Preconditions (RFC 9110 §13): If-Match / If-Unmodified-Since → 412, If-None-Match /
// If-Modified-Since → 304 (decided by `fresh`, express's own), and If-Range for ranges.
import type { IncomingHttpHeaders } from 'node:http';
import fresh from 'fresh';

export type Precondition = 'ok' | 'not-modified' | 'failed';

function listHas(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  for (const raw of header.split(',')) if (raw.trim() === etag) return true;
  return false;
}

/** Seconds since the epoch of an HTTP date, or NaN. */
function httpDate(value: string | undefined): number {
  return value === undefined ? Number.NaN : Math.floor(Date.parse(value) / 1000);
}

export function evaluatePreconditions(
  h: IncomingHttpHeaders,
  etag: string,
  lastModified: string,
  mtimeMs: number,
): Precondition {
  const ifMatch = h['if-match'];
  if (ifMatch !== undefined) {
    if (!listHas(ifMatch, etag)) return 'failed';
  } else {
    const ius = httpDate(h['if-unmodified-since']);
    if (!Number.isNaN(ius) && Math.floor(mtimeMs / 1000) > ius) return 'failed';
  }
  const inm = h['if-none-match'];
  const ims = h['if-modified-since'];
  if (inm === undefined && ims === undefined) return 'ok'; // most requests: nothing more to decide
  // An empty If-None-Match matches nothing, and still rules out If-Modified-Since (nginx: 200);
  // `fresh` would skip it and let the date answer.
  if (inm === '') return 'ok';
  // Only the validators go to `fresh`: it would also answer 200 to a request's
  // `Cache-Control: no-cache`, which nginx (and RFC 9110 §13.2.1) answers 304 all the same. And
  // `fresh` splits the list at spaces only, where nginx (and RFC 9110's OWS) take tabs too.
  const list = inm?.includes('\t') ? inm.replaceAll('\t', ' ') : inm;
  return fresh({ 'if-none-match': list, 'if-modified-since': ims }, { etag, 'last-modified': lastModified })
    ? 'not-modified'
    : 'ok';
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
