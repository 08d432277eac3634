import { describe, expect, it } from 'vitest';
import { cacheControl, isFingerprinted } from './cache-policy.ts';
import { acceptedEncodings } from './send-file.ts';

const policy = { maxAgeMs: 0, immutableMaxAgeMs: 365 * 24 * 3600 * 1000 };

describe('cache policy', () => {
  it('recognises fingerprinted names, not ordinary words', () => {
    for (const name of [
      '/site.3f9a1c.css',
      '/app-3F9A1C7B.js',
      '/chunk.a1b2c3d4e5.mjs',
      '/img/logo.5d41402abc.png',
    ])
      expect(isFingerprinted(name), name).toBe(true);
    for (const name of ['/site.css', '/app.bundle.js', '/theme-normal.css', '/v2.css', '/abcdef.css'])
      expect(isFingerprinted(name), name).toBe(false);
  });

  it('revalidates HTML even when fingerprinted, honours WEB_MAX_AGE for the rest', () => {
    expect(cacheControl('/index.3f9a1c.html', 'text/html; charset=utf-8', policy)).toBe('no-cache');
    expect(cacheControl('/a.3f9a1c.css', 'text/css', policy)).toBe('public, max-age=31536000, immutable');
    expect(cacheControl('/a.css', 'text/css', policy)).toBe('no-cache');
    expect(cacheControl('/a.css', 'text/css', { ...policy, maxAgeMs: 600_000 })).toBe('public, max-age=600');
    expect(cacheControl('/a.3f9a1c.css', 'text/css', { maxAgeMs: 0, immutableMaxAgeMs: 0 })).toBe('no-cache');
  });
});

describe('Accept-Encoding', () => {
  it('reads tokens, q=0 refusals and *', () => {
    expect(acceptedEncodings('gzip, deflate, br')).toEqual({ br: true, gzip: true });
    expect(acceptedEncodings('br;q=0, gzip;q=0.5')).toEqual({ br: false, gzip: true });
    expect(acceptedEncodings('*')).toEqual({ br: true, gzip: true });
    expect(acceptedEncodings('identity')).toEqual({ br: false, gzip: false });
    expect(acceptedEncodings(undefined)).toEqual({ br: false, gzip: false });
  });
});
