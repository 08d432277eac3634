// Attacks on content-sync, replayed with generated variants so that a class stays closed, not only
// the case that was found: tar escapes (`..`, absolute paths, symlink and hard-link escapes, each
// spelled as ustar, pax and GNU long names), device files and other entry types, permission bits,
// bombs (size, entry count, expansion), and SIGTERM / kill -9 at random points of a publish with
// the target checked whole afterwards. Harmless look-alikes are generated beside them and must be
// published: refusing everything would pass the escape checks too.
//
// Variants come from a seed printed in the suite's name; ATTACK_SEED=<n> replays a run. In the
// system suite because it runs as root (as a careless pod does: the bits and owners that matter
// then) and takes a minute.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, join, posix } from 'node:path';
import { gzipSync } from 'node:zlib';
import { closeServer, listen } from '@multipod/service';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_EXPANSION } from './archive-check.ts';
import type { Outcome } from './syncer.ts';
import {
  type Child,
  currentTree,
  fillTree,
  makeSyncer,
  makeTar,
  makeTarGz,
  putFile,
  readTree,
  removeDir,
  runMain,
  type TarEntry,
  type TarSpelling,
  type TestSyncer,
  tempDir,
  waitFor,
} from './testing.ts';

const SEED = Number(process.env.ATTACK_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: small, seedable, good enough to pick variants. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
  };
}
const rng = prng(SEED);

// ---------------------------------------------------------------------------------------------
// One local server for every archive variant, and a fresh target per variant: a good archive is
// published first, then the variant is served and synced once, in process (the real Syncer).

let server: Server;
let url: string;
let served: Buffer = Buffer.alloc(0);
let chunked = false;
let root: string;
const GOOD = [{ path: 'index.html', body: 'good' }];

beforeAll(async () => {
  server = createServer((_req, res) => {
    const body = served;
    res.writeHead(200, chunked ? {} : { 'content-length': body.length }).end(body);
  });
  url = `http://127.0.0.1:${await listen(server, { port: 0, host: '127.0.0.1', setting: 'test' })}/site.tar.gz`;
  root = tempDir('attacks');
});
afterAll(async () => {
  await closeServer(server);
  removeDir(root);
});

interface Variant {
  name: string;
  entries: TarEntry[];
  /** A regex the error must match, or the tree that must be published. */
  expect: RegExp | Record<string, string>;
  /** Names an escape would create: they must exist nowhere after the sync. */
  escapes?: string[];
  /** Absolute paths an escape would create. */
  absolute?: string[];
  limits?: { maxFiles?: number; maxBytes?: number };
  /** Served instead of `entries` as they are. */
  raw?: Buffer;
  /** More checks on the published snapshot. */
  check?: (live: string) => void;
}

let n = 0;
const unique = () => `cs-attack-${SEED}-${++n}`;

/** Every file system entry under `dir`, not following symlinks. */
function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    out.push(p);
    if (lstatSync(p).isDirectory()) walk(p, out);
  }
  return out;
}

/** Anything an attack must never leave in a target: device nodes, FIFOs, sockets, special bits. */
function assertTargetClean(target: string): void {
  for (const p of walk(target)) {
    const st = lstatSync(p);
    expect(st.isFile() || st.isDirectory() || st.isSymbolicLink(), `${p} is a special file`).toBe(true);
    expect(st.mode & 0o7000, `${p} has mode ${(st.mode & 0o7777).toString(8)}`).toBe(0);
    if (st.isSymbolicLink()) expect(p).toBe(join(target, 'current'));
  }
}

async function attack(v: Variant): Promise<void> {
  const target = join(root, `www-${++n}`);
  const staging = join(target, '.snapshots', '.work', 'unpacked-2');
  chunked = false;
  let t: TestSyncer | undefined;
  try {
    t = makeSyncer({ kind: 'archive', url }, { target, dotfiles: true, ...v.limits });
    await t.syncer.prepare();
    served = makeTarGz(GOOD);
    expect((await t.syncer.syncNow()).result).toBe('published');
    const before = readlinkSync(join(target, 'current'));
    served = v.raw ?? makeTarGz(v.entries);
    const outcome: Outcome = await t.syncer.syncNow();
    if (v.expect instanceof RegExp) {
      expect(outcome.result, `${outcome.error}`).toBe('error');
      expect(outcome.error).toMatch(v.expect);
      expect(readlinkSync(join(target, 'current'))).toBe(before);
      expect(currentTree(target)).toEqual({ 'index.html': 'good' });
    } else {
      expect(outcome.result, outcome.error).toBe('published');
      expect(currentTree(target)).toEqual(v.expect);
      v.check?.(realpathSync(join(target, 'current')));
    }
    // Staging is gone either way, and nothing landed outside the tree it was unpacked into.
    expect(readdirSync(join(target, '.snapshots', '.work'))).toEqual([]);
    for (const name of v.escapes ?? [])
      for (let d = dirname(staging); ; d = dirname(d)) {
        expect(existsSync(join(d, name)), `${join(d, name)} was written`).toBe(false);
        if (d === dirname(d)) break;
      }
    for (const p of v.absolute ?? []) expect(existsSync(p), `${p} was written`).toBe(false);
    assertTargetClean(target);
  } finally {
    await t?.stop();
    removeDir(target);
  }
}

// ---------------------------------------------------------------------------------------------
// Generators. Each returns variants with the expected outcome stated independently of the code:
// an entry name that is absolute or has a `..` segment is refused; a link whose target resolves
// outside the tree is refused; anything that is not a file, directory or link is refused; the rest
// is published.

const SPELLINGS: TarSpelling[] = ['ustar', 'pax', 'gnu'];
const SEPARATORS = ['/', '//', '/./'];
const DIRS = ['a', 'b', 'site', 'x y', 'é'];

function dotDotVariants(count: number): Variant[] {
  return Array.from({ length: count }, () => {
    const name = unique();
    const sep = rng.pick(SEPARATORS);
    const depth = rng.int(0, 3);
    const prefix = Array.from({ length: depth }, () => rng.pick([...DIRS, '.']));
    const climbs = rng.int(1, depth + 5);
    const parts = [...prefix, ...Array.from({ length: climbs }, () => '..'), name];
    const path = (rng.next() < 0.2 ? './' : '') + parts.join(sep);
    const type = rng.pick(['File', 'Directory', 'SymbolicLink', 'Link']);
    const spell = rng.pick(SPELLINGS);
    const linkpath = type === 'SymbolicLink' || type === 'Link' ? 'index.html' : undefined;
    return {
      name: `.. path ${JSON.stringify(path)} as ${type} (${spell})`,
      entries: [
        { path: 'index.html', body: 'attack' },
        { path: type === 'Directory' ? `${path}/` : path, type, body: 'pwned', linkpath, spell },
      ],
      expect: /climbs out of the tree with \.\./,
      escapes: [name],
    };
  });
}

function absoluteVariants(count: number): Variant[] {
  return Array.from({ length: count }, () => {
    const name = unique();
    const abs = join('/tmp', name);
    const form = rng.pick([abs, `/${abs}`, `///${abs}`, `C:${abs}`, `c:\\tmp\\${name}`, `Z:..\\${name}`]);
    const spell = rng.pick(SPELLINGS);
    return {
      name: `absolute path ${JSON.stringify(form)} (${spell})`,
      entries: [
        { path: 'index.html', body: 'attack' },
        { path: form, body: 'pwned', spell },
      ],
      expect: /has an absolute path/,
      absolute: [abs],
      escapes: [name],
    };
  });
}

function symlinkVariants(count: number): Variant[] {
  return Array.from({ length: count }, () => {
    const depth = rng.int(0, 3);
    const dirs = Array.from({ length: depth }, (_, k) => `s${k}`);
    const link = [...dirs, 'l.html'].join('/');
    const spell = rng.pick(SPELLINGS);
    const lead = rng.pick(['', './']);
    if (rng.next() < 0.5) {
      // Escapes: one climb more than the link's depth, or an absolute target; a file written
      // through the link right after it is the second half of the classic attack.
      const name = unique();
      const to = rng.pick([
        `${lead}${'../'.repeat(depth + rng.int(1, 4))}`,
        rng.pick(['/', '/etc', '/tmp', `/tmp/${name}`]),
      ]);
      return {
        name: `symlink ${link} -> ${to} (${spell}), then a file through it`,
        entries: [
          { path: 'index.html', body: 'attack' },
          { path: link, type: 'SymbolicLink', linkpath: to, spell },
          { path: `${link}/${name}`, body: 'pwned' },
        ],
        expect: /points to .*, outside the tree/,
        escapes: [name],
        absolute: [join('/tmp', name)],
      };
    }
    // Inside: climbs up to the link's depth, to a real file there. Published as that file.
    const climbs = rng.int(0, depth);
    const at = [...dirs.slice(0, depth - climbs), 't.html'].join('/');
    const to = `${lead}${'../'.repeat(climbs)}t.html`;
    return {
      name: `symlink ${link} -> ${to} (${spell}), inside`,
      entries: [
        { path: 'index.html', body: 'attack' },
        { path: at, body: 'T' },
        { path: link, type: 'SymbolicLink', linkpath: to, spell },
      ],
      expect: { 'index.html': 'attack', [at]: 'T', [link]: 'T' },
    };
  });
}

function hardLinkVariants(count: number): Variant[] {
  return Array.from({ length: count }, () => {
    const spell = rng.pick(SPELLINGS);
    const r = rng.next();
    if (r < 0.5) {
      const to = rng.pick([
        '/etc/passwd',
        '/etc/hostname',
        `${'../'.repeat(rng.int(1, 6))}etc/passwd`,
        `a/${'../'.repeat(rng.int(2, 6))}etc/hostname`,
      ]);
      return {
        name: `hard link h.html -> ${to} (${spell})`,
        entries: [
          { path: 'index.html', body: 'attack' },
          { path: 'h.html', type: 'Link', linkpath: to, spell },
        ],
        expect: /points to .*, outside the tree/,
      };
    }
    if (r < 0.7) {
      // Inside, but spelled with `..`: refused as tar and node-tar refuse it, with a clear line.
      const to = rng.pick(['a/../t.html', 'a/b/../../t.html', './a/../t.html']);
      return {
        name: `hard link h.html -> ${to} (${spell}), .. inside`,
        entries: [
          { path: 'index.html', body: 'attack' },
          { path: 'a/b/', type: 'Directory' },
          { path: 't.html', body: 'T' },
          { path: 'h.html', type: 'Link', linkpath: to, spell },
        ],
        expect: /a name with \.\./,
      };
    }
    const to = rng.pick(['t.html', './t.html', 'a/t.html']);
    return {
      name: `hard link h.html -> ${to} (${spell}), inside`,
      entries: [
        { path: 'index.html', body: 'attack' },
        { path: posix.normalize(to), body: 'T' },
        { path: 'h.html', type: 'Link', linkpath: to, spell },
      ],
      expect: { 'index.html': 'attack', [posix.normalize(to)]: 'T', 'h.html': 'T' },
    };
  });
}

/** Type flags that are not a file, a directory or a link (and node-tar's names for them). */
const FORBIDDEN_TYPES = [
  'CharacterDevice',
  'BlockDevice',
  'FIFO',
  'D', // GNUDumpDir
  'S', // SparseFile
  'V', // TapeVolumeHeader
  'M', // ContinuationFile
  'I', // Inode
  'A', // SolarisACL
  'Z', // nobody's
];

function typeVariants(): Variant[] {
  return FORBIDDEN_TYPES.map((type) => {
    const path = rng.pick(['dev/null', 'zero', 'index2.html', 'a/b/sda']);
    return {
      name: `a ${type} entry at ${path}`,
      entries: [
        { path: 'index.html', body: 'attack' },
        { path, type, spell: rng.pick(SPELLINGS) },
      ],
      expect: /only files, directories and links/,
    };
  });
}

function harmlessVariants(count: number): Variant[] {
  const names = [
    () => `${rng.pick(DIRS)}//${rng.pick(DIRS)}.html`,
    () => `./${rng.pick(DIRS)}/./p.html`,
    () => '.../three-dots.html',
    () => '..foo',
    () => 'foo..',
    () => 'a\\b.html',
    () => `${'long-segment/'.repeat(rng.int(8, 20))}deep.html`,
    () => `${'x'.repeat(rng.int(101, 250))}.html`,
    () => 'üñíçødé/ファイル.html',
    () => '.well-known/security.txt',
  ];
  return Array.from({ length: count }, () => {
    const path = rng.pick(names)();
    const spell: TarSpelling = path.length > 99 ? rng.pick(['pax', 'gnu']) : rng.pick(SPELLINGS);
    const type = rng.pick(['File', '7', '0']); // a file, a contiguous file, a file by its flag
    const published = posix.normalize(path).replace(/\/$/, '');
    return {
      name: `harmless ${JSON.stringify(path)} as ${type} (${spell})`,
      entries: [
        { path: 'index.html', body: 'attack' },
        { path, type, body: 'fine', spell },
      ],
      expect: { 'index.html': 'attack', [published]: 'fine' },
    };
  });
}

describe(`content-sync attacks (ATTACK_SEED=${SEED})`, () => {
  describe('tar escapes', () => {
    it.each(dotDotVariants(40).map((v) => [v.name, v] as const))('%s', (_n, v) => attack(v));
    it.each(absoluteVariants(20).map((v) => [v.name, v] as const))('%s', (_n, v) => attack(v));
    it.each(symlinkVariants(30).map((v) => [v.name, v] as const))('%s', (_n, v) => attack(v));
    it.each(hardLinkVariants(30).map((v) => [v.name, v] as const))('%s', (_n, v) => attack(v));
  });

  describe('entry types', () => {
    it.each(typeVariants().map((v) => [v.name, v] as const))('%s', (_n, v) => attack(v));
  });

  describe('harmless look-alikes are published', () => {
    it.each(harmlessVariants(30).map((v) => [v.name, v] as const))('%s', (_n, v) => attack(v));
  });

  describe('permission bits', () => {
    const modes = Array.from({ length: 24 }, () => rng.int(0, 0o7777));

    it.each(modes.map((m) => [m.toString(8).padStart(4, '0'), m] as const))(
      'an archive file with mode %s is published without setuid, setgid and sticky',
      async (_name, mode) => {
        const dirMode = rng.int(0, 0o7777);
        await attack({
          name: '',
          entries: [
            { path: 'index.html', body: 'attack' },
            { path: 'd/', type: 'Directory', mode: dirMode },
            { path: 'd/f', body: 'F', mode },
          ],
          expect: { 'index.html': 'attack', 'd/f': 'F' },
          // The permission bits stay as the archive has them, less the umask; snapshot
          // directories are content-sync's own (0755).
          check: (live) => {
            expect(statSync(join(live, 'd/f')).mode & 0o7777).toBe(mode & 0o777 & ~process.umask());
            expect(statSync(join(live, 'd')).mode & 0o7777).toBe(0o755 & ~process.umask());
          },
        });
      },
    );

    it('a source directory whose files have every mode publishes them without those bits', async () => {
      const src = join(root, 'modes-src');
      const target = join(root, 'modes-www');
      for (const m of modes) putFile(src, `m${m.toString(8)}`, String(m));
      for (const m of modes) chmodSync(join(src, `m${m.toString(8)}`), m);
      const t = makeSyncer({ kind: 'dir', path: src }, { target });
      try {
        await t.syncer.prepare();
        expect((await t.syncer.syncNow()).result).toBe('published');
        const live = realpathSync(join(target, 'current'));
        for (const m of modes)
          expect(statSync(join(live, `m${m.toString(8)}`)).mode & 0o7777, m.toString(8)).toBe(m & 0o777);
        assertTargetClean(target);
      } finally {
        await t.stop();
        removeDir(src);
        removeDir(target);
      }
    });
  });

  describe('bombs', () => {
    const counts = Array.from({ length: 6 }, () => rng.int(3, 60));
    it.each(counts)(
      'more entries than --max-files %i is refused; exactly that many is published',
      async (max) => {
        const extra = rng.int(1, 30);
        const files = (k: number) =>
          Array.from({ length: k }, (_, i) => ({ path: i === 0 ? 'index.html' : `f${i}`, body: 'attack' }));
        await attack({
          name: '',
          entries: files(max + extra),
          expect: new RegExp(`tar bomb refused: more than ${max} entries`),
          limits: { maxFiles: max },
        });
        await attack({
          name: '',
          entries: files(max),
          expect: Object.fromEntries(files(max).map((f) => [f.path, 'attack'])),
          limits: { maxFiles: max },
        });
      },
    );

    const sizes = Array.from({ length: 6 }, () => rng.int(16, 256) * 1024);
    it.each(sizes)(
      'more than --max-bytes %i unpacked is refused, in one file or many; exactly that is published',
      async (max) => {
        const text = (k: number) => 'abcdefgh'.repeat(Math.ceil(k / 8)).slice(0, k);
        const parts = rng.int(1, 8);
        const split = (total: number) =>
          Array.from({ length: parts }, (_, i) => ({
            path: i === 0 ? 'index.html' : `p${i}`,
            body: text(Math.floor(total / parts) + (i === 0 ? total % parts : 0)),
          }));
        await attack({
          name: '',
          entries: split(max + rng.int(1, 4096)),
          expect: new RegExp(`tar bomb refused: unpacks to more than ${max} bytes`),
          limits: { maxBytes: max },
        });
        const exact = split(max);
        await attack({
          name: '',
          entries: exact,
          expect: Object.fromEntries(exact.map((f) => [f.path, f.body])),
          limits: { maxBytes: max },
        });
      },
    );

    it.each([
      [
        'a header that claims 8 GiB',
        () => makeTarGz([{ path: 'index.html', body: 'x', size: 2 ** 33 }]),
        /unpacks to more than 200000 bytes/,
        200_000,
      ],
      [
        'a download bigger than --max-bytes, with Content-Length',
        () => Buffer.from(createHash('sha512').update(String(SEED)).digest('hex').repeat(2000)),
        /is 256000 bytes, more than --max-bytes/,
        200_000,
      ],
      [
        `zeros expanding more than ${MAX_EXPANSION} times, within --max-bytes`,
        () =>
          gzipSync(makeTar([{ path: 'zeros', body: Buffer.alloc(rng.int(16, 48) * 2 ** 20) }]), { level: 9 }),
        /tar bomb refused: it expands more than 1000 times/,
        2 ** 31,
      ],
      [
        'junk that is neither gzip nor tar',
        () => Buffer.from(createHash('sha256').update(String(SEED)).digest('base64').repeat(40)),
        /damaged or truncated/,
        200_000,
      ],
    ] as Array<[string, () => Buffer, RegExp, number]>)(
      '%s is refused',
      async (_name, make, why, maxBytes) => {
        await attack({ name: '', entries: [], raw: make(), expect: why, limits: { maxBytes } });
      },
    );

    it('a chunked download bigger than --max-bytes is refused as it arrives', async () => {
      const target = join(root, 'chunked-www');
      const t = makeSyncer({ kind: 'archive', url }, { target, maxBytes: 100_000 });
      try {
        await t.syncer.prepare();
        chunked = true;
        served = Buffer.alloc(300_000, 7);
        const outcome = await t.syncer.syncNow();
        expect(outcome.error).toMatch(/is more than 100000 bytes/);
        expect(readdirSync(join(target, '.snapshots', '.work'))).toEqual([]);
      } finally {
        chunked = false;
        await t.stop();
        removeDir(target);
      }
    });

    it('megabytes of zeros after the end-of-archive blocks are not read, and the archive is published', async () => {
      const tail = Buffer.alloc(rng.int(8, 64) * 2 ** 20);
      const raw = gzipSync(Buffer.concat([makeTar([{ path: 'index.html', body: 'attack' }]), tail]));
      await attack({ name: '', entries: [], raw, expect: { 'index.html': 'attack' } });
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Signals at random points of a publish: the real process, a directory or an archive source,
// SIGTERM (exit 0, nothing left behind) or kill -9 (then a restart cleans up and publishes).

describe(`content-sync killed mid-publish (ATTACK_SEED=${SEED})`, () => {
  const DIRS_N = 20;
  const FILES_N = 100;
  const children: Child[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill();
  });

  /** The tree behind `current` is one version, whole: every file, all of the same version. */
  const versionOf = (target: string): string => {
    const tree = currentTree(target)!;
    expect(Object.keys(tree)).toHaveLength(DIRS_N * FILES_N);
    const versions = new Set(Object.values(tree).map((v) => v.split(' ')[0]));
    expect([...versions], 'a mixed tree').toHaveLength(1);
    return [...versions][0]!;
  };
  const leftovers = (target: string) =>
    readdirSync(join(target, '.snapshots')).filter((x) => x.startsWith('.tmp-') || x === '.work');
  const published = (c: Child) => c.lines.filter((l) => l.msg === 'published');
  /**
   * A new version of the source directory, swapped in at once as the kubelet updates a ConfigMap
   * volume (`d0 -> ..data/d0`, `..data -> ..v2`, one rename): a source written file by file is
   * itself half-updated for a while, and a snapshot of it rightly is too.
   */
  const update = (src: string, v: string) => {
    fillTree(join(src, `..${v}`), DIRS_N, FILES_N, `${v} `);
    symlinkSync(`..${v}`, join(src, '..data_tmp'));
    renameSync(join(src, '..data_tmp'), join(src, '..data'));
    for (let d = 0; d < DIRS_N; d++)
      if (!existsSync(join(src, `d${d}`))) symlinkSync(`..data/d${d}`, join(src, `d${d}`));
  };

  const rounds = Array.from({ length: 8 }, (_, i) => ({
    signal: i % 2 === 0 ? ('SIGTERM' as const) : ('SIGKILL' as const),
    source: i % 4 < 2 ? ('dir' as const) : ('archive' as const),
    fraction: rng.next() * 1.2, // of the time the first publish took; past 1, after the swap
  }));

  it.each(rounds.map((r) => [`${r.signal} ${r.source} at ${r.fraction.toFixed(2)}`, r] as const))(
    '%s of a publish: the target is whole, then and after a restart',
    async (_n, r) => {
      const base = tempDir('killed');
      const src = join(base, 'src');
      const target = join(base, 'www');
      let archive: Buffer = Buffer.alloc(0);
      const archives = (v: string) => {
        const entries: TarEntry[] = [];
        for (let d = 0; d < DIRS_N; d++)
          for (let f = 0; f < FILES_N; f++) entries.push({ path: `d${d}/f${f}.txt`, body: `${v} ${d}/${f}` });
        return makeTarGz(entries);
      };
      const s = createServer((_req, res) =>
        res.writeHead(200, { 'content-length': archive.length }).end(archive),
      );
      const port = await listen(s, { port: 0, host: '127.0.0.1', setting: 'test' });
      try {
        const env = {
          SYNC_SOURCE: r.source === 'dir' ? src : `http://127.0.0.1:${port}/site.tar.gz`,
          SYNC_TARGET: target,
          SYNC_INTERVAL: '200ms',
          SYNC_PRUNE_GRACE: '0s',
        };
        const start = () => {
          const c = runMain(env);
          children.push(c);
          return c;
        };
        if (r.source === 'dir') update(src, 'v1');
        else archive = archives('v1');
        const first = start();
        const took = await waitFor(
          'v1 published',
          () => published(first)[0]?.ms as number | undefined,
          30_000,
        );
        expect(versionOf(target)).toBe('v1');
        // v2 of every file; the signal lands at a random point of its publish.
        if (r.source === 'dir') update(src, 'v2');
        else archive = archives('v2');
        await new Promise((res) => setTimeout(res, Math.round(r.fraction * Math.max(Number(took), 50))));
        first.proc.kill(r.signal);
        const code = await first.exited;
        const version = versionOf(target);
        if (r.signal === 'SIGTERM') {
          expect(code).toBe(0);
          expect(first.lines.some((l) => /deadline passed/.test(l.msg))).toBe(false);
          expect(leftovers(target)).toEqual([]);
        }
        expect(['v1', 'v2']).toContain(version);
        // A restart cleans up what a kill left, and publishes v2 (its own first publish: then it
        // is running, its signal handlers in place).
        const second = start();
        await waitFor(
          'v2 published',
          () => published(second).length > 0 && versionOf(target) === 'v2',
          30_000,
        );
        second.proc.kill('SIGTERM');
        expect(await second.exited).toBe(0);
        expect(leftovers(target)).toEqual([]);
        expect(readTree(realpathSync(join(target, 'current')))).toEqual(
          Object.fromEntries(
            Array.from({ length: DIRS_N * FILES_N }, (_, i) => {
              const d = Math.floor(i / FILES_N);
              const f = i % FILES_N;
              return [`d${d}/f${f}.txt`, `v2 ${d}/${f}`];
            }),
          ),
        );
        assertTargetClean(target);
      } finally {
        await closeServer(s);
        removeDir(base);
      }
    },
    120_000,
  );
});
