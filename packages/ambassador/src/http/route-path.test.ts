import { describe, expect, it } from 'vitest';
import { normaliseTarget } from './route-path.ts';

function path(target: string): string {
  const n = normaliseTarget(target);
  if (!n.ok) throw new Error(`refused: ${n.reason}`);
  return n.path + n.query;
}

describe('normaliseTarget', () => {
  it('leaves normal paths and their queries alone', () => {
    for (const p of ['/', '/a', '/a/', '/a/b.css', '/.well-known/x', '/a..b/c', '/a/.b', '/x?a=/../b'])
      expect(path(p)).toBe(p);
  });

  it('removes dot segments as RFC 3986 §5.2.4 does', () => {
    expect(path('/public/../admin')).toBe('/admin');
    expect(path('/public/./../admin')).toBe('/admin');
    expect(path('/a/b/c/./../../g')).toBe('/a/g');
    expect(path('/a/b/..')).toBe('/a/');
    expect(path('/a/b/.')).toBe('/a/b/');
    expect(path('/../../etc/passwd')).toBe('/etc/passwd');
    expect(path('/..')).toBe('/');
    expect(path('/a//../b')).toBe('/a/b');
  });

  it('decodes escaped unreserved characters first, so encoded dots are dots', () => {
    expect(path('/public/%2e%2e/admin')).toBe('/admin');
    expect(path('/public/%2E%2e/admin')).toBe('/admin');
    expect(path('/public/.%2e/admin')).toBe('/admin');
    expect(path('/%7Euser/%41')).toBe('/~user/A');
  });

  it('keeps escaped separators and other reserved characters, upper-cased, never splitting on them', () => {
    expect(path('/public/..%2fadmin')).toBe('/public/..%2Fadmin');
    expect(path('/public/..%5Cadmin')).toBe('/public/..%5Cadmin');
    expect(path('/a%2F..%2Fb')).toBe('/a%2F..%2Fb');
    expect(path('/a%20b%3f')).toBe('/a%20b%3F');
  });

  it('leaves the query untouched', () => {
    expect(path('/a/../b?x=%2e%2e/../y')).toBe('/b?x=%2e%2e/../y');
  });

  it('refuses what an upstream could resolve differently', () => {
    for (const bad of [
      '/a/%zz',
      '/a/%2',
      '/a%',
      '/public/..;/admin',
      '/public/.;x/admin',
      '/public\\..\\admin',
    ])
      expect(normaliseTarget(bad).ok, bad).toBe(false);
    expect(path('/a;v=1/b')).toBe('/a;v=1/b');
  });
});
