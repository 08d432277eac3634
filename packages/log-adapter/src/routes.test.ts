// Route templates: the segment matcher against the regular expression templates used to compile
// to (kept here as the reference), on generated templates and paths, and a path crafted to make
// that regex backtrack.
import { describe, expect, it } from 'vitest';
import { Routes, UNMATCHED_ROUTE } from './routes.ts';

/** What a template meant as a regex: `*` is `.*`, `:id` is `[^/]+`, an optional trailing slash. */
function reference(template: string): RegExp {
  const parts = template.split('/').map((seg) => {
    if (seg === '*') return '.*';
    if (seg.startsWith(':')) return '[^/]+';
    return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${parts.join('/')}/?$`);
}

describe('route templates', () => {
  it.each([
    ['/api/users/:id', '/api/users/42', true],
    ['/api/users/:id', '/api/users/42/', true],
    ['/api/users/:id', '/api/users/42?x=/y', true],
    ['/api/users/:id', '/api/users/', false],
    ['/api/users/:id', '/api/users/4/2', false],
    ['/static/*', '/static/', true],
    ['/static/*', '/static/a/b.css', true],
    ['/static/*', '/static', false],
    ['/a/*/b', '/a/x/y/b', true],
    ['/a/*/b', '/a/b', false],
    ['/', '/', true],
    ['/', '/x', false],
  ])('%s on %s: %s', (template, path, matches) => {
    expect(new Routes([template]).match(path)).toBe(matches ? template : UNMATCHED_ROUTE);
  });

  it('first match wins; no match is "other"', () => {
    const routes = new Routes(['/api/users/:id', '/api/*', '/*']);
    expect(routes.match('/api/users/1')).toBe('/api/users/:id');
    expect(routes.match('/api/orders/1')).toBe('/api/*');
    expect(routes.match('/index.html')).toBe('/*');
    expect(new Routes(['/a']).match('/b')).toBe(UNMATCHED_ROUTE);
    expect(routes.match(undefined)).toBe(UNMATCHED_ROUTE);
  });

  it('agrees with the regular expression a template stands for, on generated templates and paths', () => {
    // A small fixed-seed generator: the same cases on every run.
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const pick = <T>(xs: readonly T[]) => xs[next(xs.length)]!;
    const tokens = ['a', 'b', ':id', '*', ''];
    const segments = ['a', 'b', 'c', ''];
    let compared = 0;
    for (let i = 0; i < 300; i++) {
      const template = `/${Array.from({ length: 1 + next(4) }, () => pick(tokens)).join('/')}`;
      const re = reference(template);
      const routes = new Routes([template]);
      for (let j = 0; j < 30; j++) {
        const path = `/${Array.from({ length: next(6) }, () => pick(segments)).join('/')}`;
        expect([template, path, routes.match(path) === template]).toEqual([template, path, re.test(path)]);
        compared++;
      }
    }
    expect(compared).toBe(9000);
  });

  it('a path crafted against several * is matched in linear time (the regex form backtracks for minutes)', () => {
    const template = '/*/x/*/y/*/z';
    const path = `${'/x/y'.repeat(4000)}/q`;
    expect(new Routes([template]).match(path)).toBe(UNMATCHED_ROUTE);
    expect(new Routes([template]).match(`${path}/z`)).toBe(template);
  });
});
