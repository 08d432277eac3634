import { describe, expect, it } from 'vitest';
import { LineSplitter } from './line-splitter.ts';

/** Feeds `input` cut at the given offsets; returns the lines and the too-long count. */
function split(input: string, cuts: number[], max = 64) {
  const s = new LineSplitter(max);
  const out: string[] = [];
  let tooLong = 0;
  const sink = {
    line: (b: Buffer, from: number, to: number) => out.push(b.toString('utf8', from, to)),
    tooLong: () => tooLong++,
  };
  const bytes = Buffer.from(input);
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    // A reused buffer with stale bytes past `len`, as the tailer's is.
    const buf = Buffer.alloc(bytes.length + 8, 10);
    bytes.copy(buf, 0, from, cut);
    s.push(buf, cut - from, sink);
    from = cut;
  }
  return { out, tooLong, pending: s.pending };
}

describe('line splitter', () => {
  const text = 'alpha\nbeta\r\n\ngamma ünïcode\ndelta';

  it('gives the same lines wherever the reads are cut', () => {
    const bytes = Buffer.byteLength(text);
    for (let a = 0; a <= bytes; a++)
      for (let b = a; b <= bytes; b += 3) {
        const r = split(text, [a, b]);
        expect(r.out, `cuts ${a},${b}`).toEqual(['alpha', 'beta', '', 'gamma ünïcode']);
        expect(r.pending).toBe(5); // "delta" waits for its newline
      }
  });

  it('skips a line longer than the limit, in one read or across many, and counts it once', () => {
    const long = `ok1\n${'x'.repeat(200)}\nok2\n`;
    for (const cuts of [[], [10], [10, 70, 140], [4, 5, 204, 205]]) {
      const r = split(long, cuts);
      expect(r.out).toEqual(['ok1', 'ok2']);
      expect(r.tooLong).toBe(1);
    }
  });

  it('reports the skipped bytes of a long line as pending, so a saved position never lands inside it', () => {
    const r = split(`ok\n${'x'.repeat(100)}`, [3, 50]);
    expect(r.out).toEqual(['ok']);
    expect(r.pending).toBe(100);
  });
});
