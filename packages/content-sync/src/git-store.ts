// The git object store of a git source, kept in memory: a few files (config, refs, shallow) and
// the packs fetched, in a Map that isomorphic-git reads and writes through the file-system
// interface it takes. isomorphic-git holds a pack in memory while it fetches and reads it anyway;
// on disk, every object it reads costs a failed open (loose object?) and a readdir first, which on
// a 10,000-file checkout was most of the time. Nothing of git touches the target volume, and
// nothing is left behind by a crash. The caller bounds it (see GitSource: packs are dropped and
// fetched afresh once there are too many).

type Entry = { dir: true } | { dir: false; data: Uint8Array };

/** isomorphic-git looks for a loose object before the packs, every time: the miss must be cheap (no stack). */
function fsError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const err = new Error(`${code}: ${syscall} '${path}'`);
  Error.stackTraceLimit = limit;
  return Object.assign(err, { code, syscall, path });
}

const parentOf = (p: string) => p.slice(0, Math.max(0, p.lastIndexOf('/'))) || '/';

/** The stat fields isomorphic-git looks at. */
function statOf(e: Entry) {
  const size = e.dir ? 0 : e.data.length;
  return {
    isFile: () => !e.dir,
    isDirectory: () => e.dir,
    isSymbolicLink: () => false,
    size,
    mode: e.dir ? 0o40755 : 0o100644,
    mtimeMs: 0,
    ctimeMs: 0,
    uid: 0,
    gid: 0,
    ino: 0,
    dev: 0,
  };
}

export class MemoryStore {
  readonly #entries = new Map<string, Entry>([['/', { dir: true }]]);

  /** Bytes held (the packs, mostly). */
  get bytes(): number {
    let n = 0;
    for (const e of this.#entries.values()) if (!e.dir) n += e.data.length;
    return n;
  }

  /** Files directly in `dir`. */
  list(dir: string): string[] {
    const prefix = `${dir.replace(/\/+$/, '')}/`;
    const out: string[] = [];
    for (const p of this.#entries.keys())
      if (p.startsWith(prefix) && !p.slice(prefix.length).includes('/')) out.push(p.slice(prefix.length));
    return out;
  }

  /** Removes `path` and everything under it. */
  remove(path: string): void {
    const prefix = `${path}/`;
    for (const p of [...this.#entries.keys()])
      if (p === path || p.startsWith(prefix)) this.#entries.delete(p);
  }

  /** The promise-based file system isomorphic-git takes as `fs`. */
  readonly fs = {
    promises: {
      readFile: async (path: string, opts?: { encoding?: string } | string) => {
        const e = this.#entries.get(path);
        if (!e) throw fsError('ENOENT', 'open', path);
        if (e.dir) throw fsError('EISDIR', 'read', path);
        const enc = typeof opts === 'string' ? opts : opts?.encoding;
        const buf = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength); // a view, not a copy
        return enc ? buf.toString(enc as BufferEncoding) : buf;
      },
      writeFile: async (path: string, data: string | Uint8Array) => {
        const parent = this.#entries.get(parentOf(path));
        if (!parent?.dir) throw fsError('ENOENT', 'open', path);
        if (this.#entries.get(path)?.dir) throw fsError('EISDIR', 'open', path);
        this.#entries.set(path, {
          dir: false,
          // isomorphic-git never changes a buffer it wrote (a pack, mostly): kept as it is, not copied.
          data: typeof data === 'string' ? Buffer.from(data) : data,
        });
      },
      mkdir: async (path: string, opts?: { recursive?: boolean }) => {
        if (this.#entries.has(path)) {
          if (opts?.recursive) return;
          throw fsError('EEXIST', 'mkdir', path);
        }
        const parent = parentOf(path);
        if (!this.#entries.get(parent)?.dir) {
          if (!opts?.recursive) throw fsError('ENOENT', 'mkdir', path);
          await this.fs.promises.mkdir(parent, opts);
        }
        this.#entries.set(path, { dir: true });
      },
      rmdir: async (path: string) => {
        const e = this.#entries.get(path);
        if (!e) throw fsError('ENOENT', 'rmdir', path);
        if (!e.dir) throw fsError('ENOTDIR', 'rmdir', path);
        if (this.list(path).length) throw fsError('ENOTEMPTY', 'rmdir', path);
        this.#entries.delete(path);
      },
      rm: async (path: string, opts?: { force?: boolean }) => {
        if (!this.#entries.has(path) && !opts?.force) throw fsError('ENOENT', 'rm', path);
        this.remove(path);
      },
      unlink: async (path: string) => {
        const e = this.#entries.get(path);
        if (!e) throw fsError('ENOENT', 'unlink', path);
        if (e.dir) throw fsError('EISDIR', 'unlink', path);
        this.#entries.delete(path);
      },
      stat: async (path: string) => {
        const e = this.#entries.get(path);
        if (!e) throw fsError('ENOENT', 'stat', path);
        return statOf(e);
      },
      lstat: async (path: string) => this.fs.promises.stat(path),
      readdir: async (path: string) => {
        const e = this.#entries.get(path);
        if (!e) throw fsError('ENOENT', 'scandir', path);
        if (!e.dir) throw fsError('ENOTDIR', 'scandir', path);
        return this.list(path);
      },
      readlink: async (path: string) => {
        throw fsError(this.#entries.has(path) ? 'EINVAL' : 'ENOENT', 'readlink', path);
      },
      symlink: async (_target: string, path: string) => {
        throw fsError('EPERM', 'symlink', path);
      },
    },
  };
}
