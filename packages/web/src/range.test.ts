// parseRange: range-parser's answers, and web's own where they differ (see range.ts).
import { describe, expect, it } from 'vitest';
import { parseRange } from './range.ts';

const part = (start: number, end: number) => ({ kind: 'partial', start, end });
const FULL = { kind: 'full' };
const NONE = { kind: 'unsatisfiable' };

describe('parseRange', () => {
  it.each([
    ['bytes=0-4', 100, part(0, 4)],
    ['bytes=10-', 100, part(10, 99)],
    ['bytes=-10', 100, part(90, 99)],
    ['bytes=90-200', 100, part(90, 99)], // a last-pos past the end means the end
    [`bytes=0-${'9'.repeat(25)}`, 100, part(0, 99)],
    ['Bytes= 0 - 4', 100, part(0, 4)], // the unit in any case, spaces around the numbers
    ['bytes=100-', 100, NONE],
    ['bytes=200-300', 100, NONE],
    ['bytes=-0', 100, NONE],
  ])('%s of %i bytes → as range-parser reads it', (header, size, want) => {
    expect(parseRange(header, size)).toEqual(want);
  });

  it.each([
    ['bytes=0-1,2-3', 100], // several ranges: the whole file, not multipart
    ['bytes=0-1,5-2', 100], // range-parser keeps the good one; web ignores the header
    ['bytes=5-2', 100], // last before first: ignored (range-parser: unsatisfiable)
    ['bytes=x-y', 100],
    ['bytes=', 100],
    ['bytes=-', 100],
    ['items=0-1', 100], // another unit
    ['items=10-', 5],
    ['bytes = 0-1', 100],
    ['bytes=0-', 0], // an empty file is sent whole for a range from 0 (nginx)
    ['bytes=-5', 0], // or a suffix
  ])('%s of %i bytes → the whole file', (header, size) => {
    expect(parseRange(header, size)).toEqual(FULL);
  });

  it('a suffix longer than the file is all of it (range-parser: unsatisfiable)', () => {
    expect(parseRange('bytes=-500', 100)).toEqual(part(0, 99));
    expect(parseRange(`bytes=-${'9'.repeat(25)}`, 100)).toEqual(part(0, 99));
  });

  it('an empty file: a range from past 0 is unsatisfiable, no header is the whole file', () => {
    expect(parseRange('bytes=1-', 0)).toEqual(NONE);
    expect(parseRange(undefined, 0)).toEqual(FULL);
  });
});
