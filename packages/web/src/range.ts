// Range: bytes=… → 206 or 416, parsed by range-parser (express's own). Where its answer is not
// the one web gives, web's stands, each noted below with the conformance suite's reasons:
// - several ranges → the whole file (200), which RFC 9110 allows (nginx: multipart/byteranges);
// - a malformed header, or an invalid range (last before first) → the whole file (200), as RFC
//   9110 §14.2 lets a server ignore it (range-parser: -2 or -1; nginx: 416);
// - a suffix longer than the file → all of it (206), as RFC 9110 §14.1.3 and nginx say
//   (range-parser: unsatisfiable);
// - an empty file is sent whole (200) for a range from 0 or a suffix, as nginx does (RFC 9110
//   would call them unsatisfiable; clients ask `bytes=0-` of anything).
import rangeParser from 'range-parser';

export type RangeResult =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const BYTES = /^bytes=/i;
const FULL: RangeResult = Object.freeze({ kind: 'full' });
const UNSATISFIABLE: RangeResult = Object.freeze({ kind: 'unsatisfiable' });

export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined || header.includes(',') || !BYTES.test(header)) return FULL;
  const ranges = rangeParser(size, header);
  if (ranges === -2) return FULL;
  if (ranges !== -1) return { kind: 'partial', start: ranges[0]!.start, end: ranges[0]!.end };
  // Nothing satisfiable by range-parser's reading; the spec is `first-last`, both digits or empty.
  const spec = header.slice(header.indexOf('=') + 1);
  const dash = spec.indexOf('-');
  const first = spec.slice(0, dash).trim();
  const last = spec.slice(dash + 1).trim();
  if (first !== '' && last !== '' && Number(last) < Number(first)) return FULL;
  if (size === 0 && (first === '' || Number(first) === 0)) return FULL;
  if (first === '' && Number(last) > 0) return { kind: 'partial', start: 0, end: size - 1 };
  return UNSATISFIABLE;
}
