// What SYNC_SOURCE may be, and the git settings that go with it: each bad form refused with one
// line naming the setting, the value and what to write instead.
import { SettingError } from '@multipod/service';
import { describe, expect, it } from 'vitest';
import { resolveSource } from './config.ts';

const resolve = (source: string, extra: { ref?: string; depth?: number; gitRoot?: string } = {}) =>
  resolveSource({ source, webhookUrl: undefined, depth: 1, ...extra });

describe('SYNC_SOURCE', () => {
  it('reads a directory, an archive URL and a git repository', () => {
    expect(resolve('/srv/site/')).toEqual({ kind: 'dir', path: '/srv/site' });
    expect(resolve('https://example.test/site.tar.gz')).toEqual({
      kind: 'archive',
      url: 'https://example.test/site.tar.gz',
    });
    expect(
      resolve('git+https://example.test/org/site.git', { ref: 'v1.2', depth: 3, gitRoot: './public/' }),
    ).toEqual({
      kind: 'git',
      url: 'https://example.test/org/site.git',
      ref: 'v1.2',
      depth: 3,
      root: 'public',
    });
    expect(resolve('git+http://git.default.svc:8080/site')).toMatchObject({
      kind: 'git',
      url: 'http://git.default.svc:8080/site',
      ref: undefined,
      root: '',
    });
  });

  it.each([
    [
      'https://example.test/org/site.git',
      /--source \/ SYNC_SOURCE: .* names a git repository: write it git\+https:/,
    ],
    ['git@github.com:org/site.git', /SYNC_SOURCE: .* is an SSH address; SSH is not supported/],
    ['ssh://git@example.test/org/site.git', /SSH is not supported: use the repository's https URL/],
    ['git+ssh://git@example.test/org/site.git', /SSH is not supported/],
    ['git+https://user:token@example.test/site.git', /carries credentials in the URL/],
    ['git+ftp://example.test/site.git', /is not a directory or an http\(s\) URL/],
    ['site', /is not an absolute directory path/],
  ])('refuses %s', (source, why) => {
    expect(() => resolve(source)).toThrow(SettingError);
    expect(() => resolve(source)).toThrow(why);
  });

  it('never repeats credentials it refuses', () => {
    expect(() => resolve('git+https://user:hunter2@example.test/site.git')).toThrow(/^(?!.*hunter2).*$/s);
  });
});

describe('git settings', () => {
  it.each([
    ['main..x', /--ref \/ SYNC_REF: "main\.\.x" is not a branch, tag or commit id/],
    ['-rf', /SYNC_REF/],
    ['a b', /SYNC_REF/],
    ['topic.lock', /SYNC_REF/],
  ])('refuses the ref %s', (ref, why) => {
    expect(() => resolve('git+https://example.test/site.git', { ref })).toThrow(why);
  });

  it('takes full ref names, slashes and commit ids', () => {
    for (const ref of ['refs/heads/main', 'release/2026-11', 'a'.repeat(40), 'v1.0.0'])
      expect(resolve('git+https://example.test/site.git', { ref })).toMatchObject({ ref });
  });

  it.each(['/public', '../up', 'site/../../up', '.git', 'a/.git/b'])('refuses the root %s', (gitRoot) => {
    expect(() => resolve('git+https://example.test/site.git', { gitRoot })).toThrow(
      /--git-root \/ SYNC_GIT_ROOT: .* is not a folder inside the repository/,
    );
  });

  it('refuses git settings on a source that is not git', () => {
    expect(() => resolve('/srv/site', { ref: 'main' })).toThrow(
      /--ref \/ SYNC_REF: "main" applies to git sources only/,
    );
    expect(() => resolve('https://example.test/site.tar.gz', { gitRoot: 'public' })).toThrow(
      /--git-root \/ SYNC_GIT_ROOT: "public" applies to git sources only/,
    );
  });
});
