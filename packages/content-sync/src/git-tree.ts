// A commit's tree (or SYNC_GIT_ROOT's folder in it) as the snapshot builder's index, without a
// checkout: the files' blob ids stand in for the stat fields a directory scan records, so a file
// whose blob did not change since the published commit is hard-linked from the live snapshot (or
// kept, when a snapshot is recycled), and only changed blobs are read from the object store and
// written, straight into the snapshot being built. Symlinks to files inside the tree are
// published as the file they name; other symlinks and submodules are left out, with a warning.
import { writeFile } from 'node:fs/promises';
import { posix } from 'node:path';
import git, { type FsClient } from 'isomorphic-git';
import type { Filter } from './filter.ts';
import type { Tree } from './scan.ts';
import { SourceFailure } from './source-http.ts';

/** Numbers per file in `stats`, as a scan's: size, blob id (two 48-bit halves of its first 96 bits), mode. */
const FIELDS = 4;
const EXECUTABLE = 0o755;
const REGULAR = 0o644;
/** Symlinks to symlinks are followed this deep. */
const MAX_LINK_HOPS = 8;

export interface GitTree extends Tree {
  /** The commit it is the tree of. */
  readonly commit: string;
  /** Blob ids (hex), one per file. */
  readonly oids: string[];
}

export interface ReadGitTreeOptions {
  /** isomorphic-git's fs, gitdir and object cache, to read the trees. */
  fs: FsClient;
  gitdir: string;
  cache: object;
  /** Reads a blob when its file is written (later, while the snapshot is built). */
  readBlob(oid: string): Promise<Uint8Array>;
  commit: string;
  /** SYNC_GIT_ROOT: the folder to publish ('' = the whole repository). */
  root: string;
  /** Stands for the source in `Tree.root` (trees with the same one can be compared). */
  source: string;
  filter: Filter;
  maxFiles: number;
  maxBytes: number;
  /** The published tree: sizes of unchanged blobs are taken from it. */
  previous?: GitTree | undefined;
  signal?: AbortSignal;
}

interface Entry {
  oid: string;
  mode: number;
}

const modeOf = (gitMode: string) => (gitMode === '100755' ? EXECUTABLE : REGULAR);

export async function readGitTree(opts: ReadGitTreeOptions): Promise<GitTree> {
  const { fs, gitdir, cache } = opts;
  const readTree = async (oid: string) => (await git.readTree({ fs, gitdir, oid, cache })).tree;
  const { commit } = await git.readCommit({ fs, gitdir, oid: opts.commit, cache });
  let top = commit.tree;
  for (const part of opts.root ? opts.root.split('/') : []) {
    const e = (await readTree(top)).find((x) => x.path === part);
    if (e?.type !== 'tree')
      throw new SourceFailure(
        `--git-root / SYNC_GIT_ROOT ${JSON.stringify(opts.root)} is not a folder in commit ${opts.commit}`,
        'not_found',
      );
    top = e.oid;
  }

  const files = new Map<string, Entry>(); // every blob walked, published or not: symlinks resolve against it
  const published: Array<[string, Entry]> = [];
  const links: Array<[string, string]> = [];
  const dirs: string[] = [];
  const dirSet = new Set<string>(['']);
  const refused: string[] = [];
  const tooMany = () =>
    new SourceFailure(
      `commit ${opts.commit} has more than ${opts.maxFiles} files (--max-files / SYNC_MAX_FILES)`,
      'refused',
    );
  const stack: Array<[string, string]> = [[top, '']];
  while (stack.length) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    const [oid, dir] = stack.pop()!;
    for (const e of await readTree(oid)) {
      const rel = dir ? `${dir}/${e.path}` : e.path;
      if (e.type === 'tree') {
        if (!opts.filter.dir(rel)) continue;
        dirs.push(rel);
        dirSet.add(rel);
        stack.push([e.oid, rel]);
      } else if (e.type === 'commit') {
        refused.push(`${rel} (a submodule: not fetched)`);
      } else if (e.mode === '120000') {
        if (opts.filter.file(rel)) links.push([rel, e.oid]);
      } else {
        const entry = { oid: e.oid, mode: modeOf(e.mode) };
        files.set(rel, entry);
        if (!opts.filter.file(rel)) continue;
        if (published.length >= opts.maxFiles) throw tooMany();
        published.push([rel, entry]);
      }
    }
  }

  // Symlinks: a file inside the tree is published under the link's name too.
  const linkTargets = new Map(links);
  for (const [rel, oid] of links) {
    let at = rel;
    let target = oid;
    let found: Entry | undefined;
    let why = 'dangling';
    for (let hop = 0; hop < MAX_LINK_HOPS; hop++) {
      const { blob } = await git.readBlob({ fs, gitdir, oid: target, cache });
      const to = Buffer.from(blob).toString('utf8');
      const resolved = posix.normalize(posix.join(posix.dirname(at), to));
      if (to.startsWith('/') || resolved === '..' || resolved.startsWith('../')) {
        why = 'points outside the published tree';
        break;
      }
      found = files.get(resolved);
      if (found) break;
      if (dirSet.has(resolved)) {
        why = 'a symlink to a folder: not supported';
        break;
      }
      const next = linkTargets.get(resolved);
      if (!next) break;
      at = resolved;
      target = next;
    }
    if (!found) {
      refused.push(`${rel} (${why})`);
      continue;
    }
    if (published.length >= opts.maxFiles) throw tooMany();
    published.push([rel, found]);
  }

  dirs.sort();
  const n = published.length;
  const paths = new Array<string>(n);
  const index = new Map<string, number>();
  const stats = new Float64Array(n * FIELDS);
  const oids = new Array<string>(n);
  const prev = opts.previous;
  let known = 0;
  for (let i = 0; i < n; i++) {
    const [rel, e] = published[i]!;
    paths[i] = rel;
    index.set(rel, i);
    oids[i] = e.oid;
    const x = i * FIELDS;
    stats[x + 1] = Number.parseInt(e.oid.slice(0, 12), 16);
    stats[x + 2] = Number.parseInt(e.oid.slice(12, 24), 16);
    stats[x + 3] = e.mode;
    // The size of a blob is known once it is read: from the published tree when it is the same blob.
    const j = prev?.index.get(rel);
    const same =
      prev !== undefined &&
      j !== undefined &&
      prev.stats[j * FIELDS + 3] === e.mode &&
      prev.oids[j] === e.oid;
    stats[x] = same ? prev.stats[j * FIELDS]! : Number.NaN;
    if (same) known += stats[x]!;
  }
  // The file list as the published tree's when it is the same (the usual commit): shared, not rebuilt.
  const sameList = prev && prev.paths.length === n && paths.every((p, i) => p === prev.paths[i]);
  return makeTree({
    commit: opts.commit,
    source: opts.source,
    paths: sameList ? prev.paths : paths,
    index: sameList ? prev.index : index,
    stats,
    oids,
    dirs,
    refused,
    known,
    maxBytes: opts.maxBytes,
    readBlob: opts.readBlob,
  });
}

/**
 * The tree object, in a scope of its own: its `write` must not keep the options alive (they
 * hold the previous tree, which held its own: every tree ever published would stay in memory).
 */
function makeTree(t: {
  commit: string;
  source: string;
  paths: string[];
  index: Map<string, number>;
  stats: Float64Array;
  oids: string[];
  dirs: string[];
  refused: string[];
  known: number;
  maxBytes: number;
  readBlob: (oid: string) => Promise<Uint8Array>;
}): GitTree {
  const { commit, stats, oids, known, maxBytes, readBlob } = t;
  const n = t.paths.length;
  let written = 0;
  return {
    commit,
    oids,
    root: t.source,
    paths: t.paths,
    index: t.index,
    stats,
    targets: new Map(),
    dirs: t.dirs,
    watchDirs: new Map(),
    get bytes() {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += stats[i * FIELDS] || 0;
      return sum;
    },
    refused: t.refused,
    records: new Map(),
    read: 0,
    async write(i: number, dst: string) {
      const blob = await readBlob(oids[i]!);
      written += blob.length;
      if (known + written > maxBytes)
        throw new SourceFailure(
          `commit ${commit} holds more than ${maxBytes} bytes of files (--max-bytes / SYNC_MAX_BYTES)`,
          'refused',
        );
      // 'wx': a new file, never an existing inode (it may be shared with the live snapshot).
      await writeFile(dst, blob, { mode: stats[i * FIELDS + 3]!, flag: 'wx' });
      stats[i * FIELDS] = blob.length;
    },
  };
}
