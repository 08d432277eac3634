import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveError, checkArchive, entryProblem } from './archive-check.ts';
import { makeTar, makeTarGz, removeDir, type TarEntry, tempDir } from './testing.ts';

describe('archive checks', () => {
  let dir: string;
  const limits = { maxFiles: 100, maxBytes: 1_000_000 };
  const write = (name: string, entries: TarEntry[]) => {
    const file = join(dir, name);
    writeFileSync(file, makeTarGz(entries));
    return file;
  };

  beforeAll(() => {
    dir = tempDir('archive-check');
  });
  afterAll(() => removeDir(dir));

  it('accepts a normal site with internal links', async () => {
    const file = write('ok.tar.gz', [
      { path: 'site/', type: 'Directory' },
      { path: 'site/index.html', body: '<h1>hi</h1>' },
      { path: 'site/latest.html', type: 'SymbolicLink', linkpath: 'index.html' },
      { path: 'site/copy.html', type: 'Link', linkpath: 'site/index.html' },
    ]);
    await expect(checkArchive(file, limits)).resolves.toEqual({ files: 4, bytes: 11 });
  });

  it.each([
    ['an absolute path', [{ path: '/etc/cron.d/evil', body: 'x' }], /absolute path/],
    ['a .. path', [{ path: 'a/../../evil', body: 'x' }], /climbs out/],
    [
      'a symlink leaving the tree',
      [{ path: 'a/up', type: 'SymbolicLink', linkpath: '../../etc/passwd' }],
      /outside/,
    ],
    ['an absolute symlink', [{ path: 'pw', type: 'SymbolicLink', linkpath: '/etc/passwd' }], /outside/],
    ['a hard link leaving the tree', [{ path: 'h', type: 'Link', linkpath: '../secret' }], /outside/],
    [
      'a hard link whose target has .. (node-tar would refuse it mid-unpack)',
      [
        { path: 'a/', type: 'Directory' },
        { path: 't', body: 'x' },
        { path: 'h', type: 'Link', linkpath: 'a/../t' },
      ],
      /hard link "h" points to "a\/..\/t", a name with \.\./,
    ],
    ['a device', [{ path: 'dev', type: 'CharacterDevice' }], /only files, directories and links/],
    [
      'a type node-tar skips in silence (a tape volume header)',
      [
        { path: 'index.html', body: 'x' },
        { path: 'vol', type: 'V' },
      ],
      /"vol" is a TapeVolumeHeader; only files, directories and links/,
    ],
    [
      'a type nobody knows',
      [
        { path: 'index.html', body: 'x' },
        { path: 'what', type: 'Z', body: 'data' },
      ],
      /"what" is a Unsupported; only files, directories and links/,
    ],
  ] as Array<[string, TarEntry[], RegExp]>)('refuses %s', async (_name, entries, why) => {
    const file = write(`bad-${_name.replace(/\W+/g, '-')}.tar.gz`, entries);
    const err = await checkArchive(file, limits).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArchiveError);
    expect((err as Error).message).toMatch(why);
  });

  it('refuses a tar bomb by file count before reading it all', async () => {
    const entries = Array.from({ length: 500 }, (_, i) => ({ path: `f${i}`, body: 'x' }));
    const file = write('many.tar.gz', entries);
    await expect(checkArchive(file, limits)).rejects.toThrow(/tar bomb refused: more than 100 entries/);
  });

  it('refuses a tar bomb by unpacked size', async () => {
    // 4 MiB of zeros compresses to a few KiB: small download, big disk.
    const file = write('big.tar.gz', [{ path: 'zeros', body: Buffer.alloc(4 * 2 ** 20) }]);
    await expect(checkArchive(file, limits)).rejects.toThrow(
      /tar bomb refused: unpacks to more than 1000000 bytes/,
    );
  });

  it('refuses a decompression bomb by its expansion, naming it', async () => {
    // 16 MiB of zeros under a --max-bytes that allows them: the gzip expands over 1000 times.
    const file = join(dir, 'expands.tar.gz');
    writeFileSync(file, gzipSync(makeTar([{ path: 'zeros', body: Buffer.alloc(16 * 2 ** 20) }])));
    await expect(checkArchive(file, { maxFiles: 100, maxBytes: 2 ** 40 })).rejects.toThrow(
      /tar bomb refused: it expands more than 1000 times/,
    );
  });

  it('stops at the end-of-archive blocks: what follows (tar record padding, or megabytes) is not read', async () => {
    const tar = Buffer.concat([makeTar([{ path: 'index.html', body: 'hi' }]), Buffer.alloc(32 * 2 ** 20)]);
    const file = join(dir, 'trailing.tar.gz');
    writeFileSync(file, gzipSync(tar));
    await expect(checkArchive(file, limits)).resolves.toEqual({ files: 1, bytes: 2 });
  });

  it('accepts a plain, uncompressed tar', async () => {
    const file = join(dir, 'plain.tar');
    writeFileSync(file, makeTar([{ path: 'index.html', body: 'hi' }]));
    await expect(checkArchive(file, limits)).resolves.toEqual({ files: 1, bytes: 2 });
  });

  it('refuses a truncated archive', async () => {
    const whole = makeTarGz([
      { path: 'a.txt', body: 'a'.repeat(5000) },
      { path: 'b.txt', body: 'b' },
    ]);
    const file = join(dir, 'truncated.tar.gz');
    writeFileSync(file, whole.subarray(0, whole.length - 30));
    await expect(checkArchive(file, limits)).rejects.toThrow(/damaged or truncated/);
  });

  it('names the problem entry', () => {
    expect(entryProblem('File', 'ok/file', undefined)).toBeUndefined();
    expect(entryProblem('SymbolicLink', 'a/b/c', '../x')).toBeUndefined();
    expect(entryProblem('SymbolicLink', 'a/c', '../../x')).toMatch(/"a\/c" points to "..\/..\/x"/);
  });
});
