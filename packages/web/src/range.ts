// Range: bytes=… for one range → 206 or 416. Several ranges or a malformed header → the whole
// file (200), which RFC 9110 allows; nginx answers several ranges with multipart/byteranges and a
// malformed header with 416. An empty file is sent whole (200) for a range from 0 or a suffix, as
// nginx does (RFC 9110 would call them unsatisfiable; clients ask `bytes=0-` of anything).

export type RangeResult =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const SINGLE = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/i;

export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'full' };
  const m = SINGLE.exec(header);
  if (!m) return { kind: 'full' };
  const [, a, b] = m as unknown as [string, string, string];
  if (a === '' && b === '') return { kind: 'full' };
  if (a === '') {
    const suffix = Number(b);
    if (size === 0) return { kind: 'full' };
    if (suffix === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  const last = b === '' ? Number.POSITIVE_INFINITY : Number(b);
  if (last < start) return { kind: 'full' }; // invalid (RFC 9110 §14.1.1): ignored
  if (size === 0 && start === 0) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: Math.min(last, size - 1) };
}
