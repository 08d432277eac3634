import { describe, expect, it } from 'vitest';
import { safePath } from './safe-path.ts';

const opts = { maxPath: 2048, allowDotfiles: false };
const ok = (url: string) => {
  const r = safePath(url, opts);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${r.reason}`);
  return r;
};
const status = (url: string, o = opts) => {
  const r = safePath(url, o);
  return r.ok ? 200 : r.status;
};

describe('safePath', () => {
  it('passes plain paths through, marking directories', () => {
    expect(ok('/a/b.css?x=1')).toEqual({ ok: true, rel: '/a/b.css', dir: false, query: '?x=1' });
    expect(ok('/a/')).toEqual({ ok: true, rel: '/a', dir: true, query: '' });
    expect(ok('/')).toEqual({ ok: true, rel: '/', dir: true, query: '' });
  });

  it('decodes escapes and resolves . and .. without leaving the root', () => {
    expect(ok('/a%20b.txt').rel).toBe('/a b.txt');
    expect(ok('/a/../b.txt').rel).toBe('/b.txt');
    expect(ok('/a/./b//c').rel).toBe('/a/b/c');
    expect(ok('/a/%2e%2e/b').rel).toBe('/b');
    expect(ok('/a/..')).toMatchObject({ rel: '/', dir: true });
  });

  it('refuses climbing above the root, raw or encoded', () => {
    for (const url of ['/..', '/../etc/passwd', '/%2e%2e/etc/passwd', '/%2E%2E/x', '/a/../../x', '/.%2e/x'])
      expect(status(url), url).toBe(400);
  });

  it('treats double-encoded dots as a literal name (which will not be found)', () => {
    expect(ok('/%252e%252e/etc/passwd').rel).toBe('/%2e%2e/etc/passwd');
  });

  it('refuses %2f, backslashes, NUL and malformed escapes with 400', () => {
    for (const url of [
      '/a%2fb',
      '/a%2Fb',
      '/..%2f..%2fetc',
      '/a\\b',
      '/%5c..%5cx',
      '/a%00.txt',
      '/%zz',
      '/%e0%a4%a',
    ])
      expect(status(url), url).toBe(400);
  });

  it('refuses dotfiles with 404 unless allowed', () => {
    expect(status('/.env')).toBe(404);
    expect(status('/.git/config')).toBe(404);
    expect(status('/a/%2egit/HEAD')).toBe(404);
    expect(status('/.env', { ...opts, allowDotfiles: true })).toBe(200);
    expect(ok('/a/.x/../b').rel).toBe('/a/b');
  });

  it('refuses absurdly long paths with 414 and non-origin targets with 400', () => {
    expect(status(`/${'a'.repeat(3000)}`)).toBe(414);
    expect(status('http://evil/x')).toBe(400);
    expect(status('*')).toBe(400);
  });
});
