import { describe, expect, it } from 'vitest';
import { createFilter } from './filter.ts';

describe('filter', () => {
  const plain = createFilter({ include: [], exclude: [], dotfiles: false });

  it('publishes ordinary files and directories', () => {
    expect(plain.file('index.html')).toBe(true);
    expect(plain.file('a/b/c.css')).toBe(true);
    expect(plain.dir('assets')).toBe(true);
  });

  it('leaves dotfiles and dot-directories out by default', () => {
    expect(plain.file('.env')).toBe(false);
    expect(plain.file('a/.hidden')).toBe(false);
    expect(plain.dir('.git')).toBe(false);
    expect(plain.dir('..2024_11_25_13_55_02.123')).toBe(false);
    const dots = createFilter({ include: [], exclude: [], dotfiles: true });
    expect(dots.file('.well-known/security.txt')).toBe(true);
    expect(dots.dir('.well-known')).toBe(true);
  });

  it('never publishes editor temp files', () => {
    for (const name of [
      'index.html~',
      '#index.html#',
      '.#index.html',
      'a/.index.html.swp',
      'a/x.swx',
      '4913',
    ])
      expect(createFilter({ include: [], exclude: [], dotfiles: true }).file(name), name).toBe(false);
  });

  it('applies include and exclude globs to relative paths', () => {
    const f = createFilter({
      include: ['**/*.html', 'assets/**'],
      exclude: ['drafts/**', '**/*.psd'],
      dotfiles: false,
    });
    expect(f.file('index.html')).toBe(true);
    expect(f.file('blog/post.html')).toBe(true);
    expect(f.file('assets/logo.png')).toBe(true);
    expect(f.file('notes.txt')).toBe(false);
    expect(f.file('assets/logo.psd')).toBe(false);
    expect(f.dir('drafts')).toBe(false);
    expect(f.file('drafts/x.html')).toBe(false);
  });
});
