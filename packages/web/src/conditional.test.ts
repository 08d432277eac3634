// evaluatePreconditions: `fresh` decides 304s; the cases where web keeps nginx's answer instead.
import { describe, expect, it } from 'vitest';
import { evaluatePreconditions, ifRangeHolds } from './conditional.ts';

const mtimeMs = 1_700_000_000_456;
const etag = '"1a-2b-3c"';
const lastModified = new Date(mtimeMs).toUTCString();
const at = (ms: number) => new Date(ms).toUTCString();
const pre = (h: Record<string, string>) => evaluatePreconditions(h, etag, lastModified, mtimeMs);

describe('evaluatePreconditions', () => {
  it('answers 304 for a matching If-None-Match or an If-Modified-Since not before the file', () => {
    expect(pre({})).toBe('ok');
    expect(pre({ 'if-none-match': etag })).toBe('not-modified');
    expect(pre({ 'if-none-match': `"x", W/${etag}` })).toBe('not-modified');
    expect(pre({ 'if-none-match': '*' })).toBe('not-modified');
    expect(pre({ 'if-none-match': '"x"' })).toBe('ok');
    expect(pre({ 'if-modified-since': lastModified })).toBe('not-modified');
    expect(pre({ 'if-modified-since': at(mtimeMs + 60_000) })).toBe('not-modified');
    expect(pre({ 'if-modified-since': at(mtimeMs - 1000) })).toBe('ok');
    expect(pre({ 'if-modified-since': 'not a date' })).toBe('ok');
    // If-None-Match rules out If-Modified-Since (RFC 9110 §13.1.3).
    expect(pre({ 'if-none-match': '"x"', 'if-modified-since': lastModified })).toBe('ok');
  });

  it('answers 412 for If-Match (strong) or If-Unmodified-Since before the file', () => {
    expect(pre({ 'if-match': etag })).toBe('ok');
    expect(pre({ 'if-match': `W/${etag}` })).toBe('failed');
    expect(pre({ 'if-unmodified-since': at(mtimeMs - 1000) })).toBe('failed');
    expect(pre({ 'if-match': etag, 'if-unmodified-since': at(mtimeMs - 1000) })).toBe('ok');
  });

  it('keeps nginx’s answer where `fresh` alone would differ', () => {
    // A reload's Cache-Control: no-cache still gets its 304.
    expect(pre({ 'if-none-match': etag, 'cache-control': 'no-cache' })).toBe('not-modified');
    // A tab is list white space too.
    expect(pre({ 'if-none-match': `"x",\t${etag}` })).toBe('not-modified');
    // An empty If-None-Match matches nothing and still overrides the date.
    expect(pre({ 'if-none-match': '', 'if-modified-since': lastModified })).toBe('ok');
  });
});

describe('ifRangeHolds', () => {
  it('holds for the strong ETag or the exact date only', () => {
    expect(ifRangeHolds({}, etag, lastModified)).toBe(true);
    expect(ifRangeHolds({ 'if-range': etag }, etag, lastModified)).toBe(true);
    expect(ifRangeHolds({ 'if-range': `W/${etag}` }, etag, lastModified)).toBe(false);
    expect(ifRangeHolds({ 'if-range': lastModified }, etag, lastModified)).toBe(true);
    expect(ifRangeHolds({ 'if-range': at(mtimeMs + 1000) }, etag, lastModified)).toBe(false);
  });
});
