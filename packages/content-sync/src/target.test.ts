// The target check against the real file system: the root directory, kernel file systems, symlinks
// to them, and sources that nest with the target, each refused with one line naming --target.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SettingError } from '@multipod/service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkTarget, kernelFileSystem } from './target.ts';
import { removeDir, tempDir } from './testing.ts';

let root: string;
const archive = { kind: 'archive', url: 'http://127.0.0.1:1/site.tar.gz' } as const;
const dir = (path: string) => ({ kind: 'dir', path }) as const;

beforeAll(() => {
  root = tempDir('target');
  mkdirSync(join(root, 'site/sub'), { recursive: true });
  mkdirSync(join(root, 'elsewhere'));
  symlinkSync('/', join(root, 'to-root'));
  symlinkSync('/proc', join(root, 'to-proc'));
  symlinkSync(join(root, 'site'), join(root, 'to-site'));
  writeFileSync(join(root, 'a-file'), 'x');
});
afterAll(() => removeDir(root));

const refusal = (target: string, source: Parameters<typeof checkTarget>[1] = archive) => {
  try {
    checkTarget(target, source);
  } catch (err) {
    expect(err).toBeInstanceOf(SettingError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    expect(message).toMatch(/^invalid setting --target \/ SYNC_TARGET: /);
    return message;
  }
  return undefined;
};

describe('checkTarget', () => {
  it.each([
    ['/', /"\/" is the root directory/],
    ['//', /is the root directory/],
    ['/proc', /kernel file system \(proc\)/],
    ['/proc/not-there/www', /kernel file system \(proc\)/],
    ['/sys/kernel', /kernel file system \(sysfs\)/],
    ['/sys/fs/cgroup/www', /kernel file system/],
    ['/dev/shm/www', /kernel file system \(\/dev\)/],
    ['/dev/pts/www', /kernel file system \(devpts\)/],
  ])('refuses %s', (target, why) => {
    expect(refusal(target)).toMatch(why);
  });

  it('refuses a symlink to / or into /proc, saying where it leads', () => {
    expect(refusal(join(root, 'to-root'))).toMatch(/\(it resolves to \/\) is the root directory/);
    expect(refusal(join(root, 'to-proc/www'))).toMatch(/resolves to \/proc\/www.*kernel file system/);
  });

  it('refuses a file', () => {
    expect(refusal(join(root, 'a-file'))).toMatch(/exists and is not a directory/);
  });

  it.each([
    ['the source itself', 'site', 'site'],
    ['inside the source', 'site/sub/www', 'site'],
    ['holding the source', 'site', 'site/sub'],
    ['inside the source through a symlink', 'to-site/www', 'site'],
    ['the source reached through a symlink', 'site', 'to-site'],
    ['inside a source that does not exist yet', 'later/www', 'later'],
  ])('refuses a target %s', (_what, target, source) => {
    expect(refusal(join(root, target), dir(join(root, source)))).toMatch(
      /overlaps --source .*; the target must live outside the source/,
    );
  });

  it('accepts a directory of its own, existing or not, beside the source', () => {
    expect(refusal(join(root, 'elsewhere'), dir(join(root, 'site')))).toBeUndefined();
    expect(refusal(join(root, 'www-not-yet/deep'), dir(join(root, 'site')))).toBeUndefined();
    expect(refusal(join(root, 'site-www'), dir(join(root, 'site')))).toBeUndefined();
    expect(refusal(join(root, 'site/sub'))).toBeUndefined(); // an archive source has no directory
  });
});

describe('kernelFileSystem', () => {
  it('names kernel file systems by their statfs type wherever they are mounted', () => {
    expect(kernelFileSystem('/proc/self')).toBe('proc');
    expect(kernelFileSystem('/sys/kernel')).toBe('sysfs');
    expect(kernelFileSystem('/dev/pts')).toBe('devpts');
    expect(kernelFileSystem(root)).toBeUndefined();
  });
});
