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
    expect(path('/files/a%2fb')).toBe('/files/a%2Fb');
    expect(path('/files/a%5Cb/..x%2F')).toBe('/files/a%5Cb/..x%2F');
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
      // What nginx reads as a way up once it decodes the escaped slash.
      '/public/..%2fadmin',
      '/public/..%5Cadmin',
      '/public/x%2F..%2F..%2Fadmin',
      '/public/%2e%2e%2fadmin',
      '/public/..#admin',
      '/public/x#/../../admin',
    ])
      expect(normaliseTarget(bad).ok, bad).toBe(false);
    expect(path('/a;v=1/b')).toBe('/a;v=1/b');
  });
});
