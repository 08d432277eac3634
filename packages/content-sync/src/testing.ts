// Shared by the tests: temp dirs, in-process syncers with captured logs (alone, or on a fresh
// directory source), child processes of dist/main.js, polling with a deadline, tree reading, tar
// crafting.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { createLogger } from '@multipod/service';
import { waitFor as poll } from '@multipod/service/testing';
import { Header, Pax } from 'tar';
import type { SourceKind } from './config.ts';
import { Syncer, type SyncerConfig, type SyncerDeps } from './syncer.ts';

export const PKG = join(import.meta.dirname, '..');
const MAIN = join(PKG, 'dist/main.js');

export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `content-sync-${name}-`));
}

/** Writes `body` to `dir/rel`, creating the directories on the way. */
export function putFile(dir: string, rel: string, body: string): void {
  mkdirSync(join(dir, rel, '..'), { recursive: true });
  writeFileSync(join(dir, rel), body);
}

/** `dirs` directories `d0`… under `dir`, each with `files` files `f0.txt`… holding `<prefix>d/f`. */
export function fillTree(dir: string, dirs: number, files: number, prefix = ''): void {
  for (let d = 0; d < dirs; d++) {
    mkdirSync(join(dir, `d${d}`), { recursive: true });
    for (let f = 0; f < files; f++) writeFileSync(join(dir, `d${d}`, `f${f}.txt`), `${prefix}${d}/${f}`);
  }
}

/** Polls `check` until it returns a truthy value; fails with `what` after the deadline. */
export function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 10_000): Promise<T> {
  return poll(what, async () => (await check()) || undefined, {
    timeoutMs,
    intervalMs: 10,
    retryErrors: true,
  });
}

/** Every file under `dir` (following symlinks) → its text. */
export function readTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}

/** The tree behind TARGET/current, or undefined before the first publish. */
export function currentTree(target: string): Record<string, string> | undefined {
  if (!existsSync(join(target, 'current'))) return undefined;
  return readTree(realpathSync(join(target, 'current')));
}

export function snapshotIds(target: string): string[] {
  try {
    return readdirSync(join(target, '.snapshots'))
      .filter((n) => !n.startsWith('.'))
      .sort();
  } catch {
    return [];
  }
}

const baseConfig: SyncerConfig = Object.freeze({
  target: '/nonexistent',
  interval: 60_000,
  debounce: 20,
  include: [],
  exclude: [],
  dotfiles: false,
  maxFailures: 0,
  pruneGrace: 60_000,
  maxFiles: 1_000_000,
  maxBytes: 64 * 2 ** 20,
  httpTimeout: 5_000,
  webhookUrl: undefined,
  webhookRetries: 5,
});

export interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

export interface TestSyncer {
  syncer: Syncer;
  logs: LogLine[];
  stop(): Promise<void>;
}

/** A Syncer in this process with its JSON log captured. */
export function makeSyncer(
  source: SourceKind,
  config: Partial<SyncerConfig> & { target: string },
  deps: Omit<SyncerDeps, 'log'> = {},
): TestSyncer {
  const logs: LogLine[] = [];
  const stream = new PassThrough();
  let buf = '';
  stream.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    let nl = buf.indexOf('\n');
    while (nl !== -1) {
      logs.push(JSON.parse(buf.slice(0, nl)) as LogLine);
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
    }
  });
  const log = createLogger('content-sync', { level: 'debug', destination: stream });
  const syncer = new Syncer({ ...baseConfig, ...config }, source, { ...deps, log });
  return { syncer, logs, stop: () => syncer.stop() };
}

/** A directory source (`root/src`) and a target (`root/www`) in a fresh temp dir. */
export interface DirSetup {
  readonly root: string;
  readonly src: string;
  readonly target: string;
  /** Writes a source file. */
  put(rel: string, body: string): void;
  /** A syncer on them, not prepared (removed with the rest by remove()). */
  make(config?: Partial<SyncerConfig>): TestSyncer;
  /** A syncer on them, prepared and started (its first sync done). */
  start(config?: Partial<SyncerConfig>): Promise<TestSyncer>;
  /** Stops the syncer and removes the temp dir. */
  remove(): Promise<void>;
}

export function dirSetup(name = 'dir'): DirSetup {
  const root = tempDir(name);
  const src = join(root, 'src');
  const target = join(root, 'www');
  mkdirSync(src);
  let running: TestSyncer | undefined;
  const make = (config: Partial<SyncerConfig> = {}) => {
    running = makeSyncer({ kind: 'dir', path: src }, { ...config, target });
    return running;
  };
  return {
    root,
    src,
    target,
    put: (rel, body) => putFile(src, rel, body),
    make,
    async start(config) {
      const t = make(config);
      await t.syncer.prepare();
      await t.syncer.start();
      return t;
    },
    async remove() {
      await running?.stop();
      removeDir(root);
    },
  };
}

export interface Child {
  proc: ChildProcess;
  lines: LogLine[];
  stderr: () => string;
  exited: Promise<number | null>;
  kill(): void;
}

/** Runs dist/main.js (built first when missing), or another component's, with the given environment. */
export function runMain(env: Record<string, string>, args: string[] = [], main = MAIN): Child {
  if (main === MAIN && !existsSync(MAIN))
    execFileSync(process.execPath, ['../../scripts/bundle.ts'], { cwd: PKG });
  const proc = spawn(process.execPath, [main, ...args], {
    env: { PATH: process.env.PATH ?? '', SYNC_ADMIN_HOST: '127.0.0.1', SYNC_ADMIN_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    let nl = out.indexOf('\n');
    while (nl !== -1) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      try {
        lines.push(JSON.parse(line) as LogLine);
      } catch {
        lines.push({ level: 'raw', msg: line });
      }
      nl = out.indexOf('\n');
    }
  });
  proc.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    lines,
    stderr: () => err,
    exited,
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

/** The dist/main.js children one suite starts, in a temp dir of its own. */
export interface MainRuns {
  readonly root: string;
  run(env: Record<string, string>, args?: string[]): Child;
  /** SIGKILLs the children still running (after each test). */
  kill(): void;
  /** kill(), and the temp dir removed (after the suite). */
  remove(): void;
}

export function mainRuns(name: string): MainRuns {
  const root = tempDir(name);
  const children: Child[] = [];
  const kill = () => {
    for (const c of children.splice(0)) c.kill();
  };
  return {
    root,
    run(env, args = []) {
      const c = runMain(env, args);
      children.push(c);
      return c;
    },
    kill,
    remove() {
      kill();
      removeDir(root);
    },
  };
}

export type TarSpelling = 'ustar' | 'pax' | 'gnu';

export interface TarEntry {
  path: string;
  /** node-tar's type name (`File`, `SymbolicLink`, `CharacterDevice`…) or a raw one-character flag. */
  type?: string;
  body?: string | Buffer;
  linkpath?: string;
  /** Size written in the header (defaults to the body's); lets a test lie like a tar bomb does. */
  size?: number;
  /** Mode bits in the header (default 0644 for files, 0755 for directories). */
  mode?: number;
  /**
   * How the path (and link path) is carried: in the ustar header (default), in a pax header over
   * an innocent ustar name, or in GNU long-name entries: the same escape in each of its spellings.
   */
  spell?: TarSpelling;
}

/** Builds a .tar.gz with node-tar's Header, byte for byte what a hostile archive may contain. */
export function makeTarGz(entries: TarEntry[]): Buffer {
  return gzipSync(makeTar(entries));
}

const FILE_FLAGS = new Set(['File', 'OldFile', 'ContiguousFile', '0', '7']);

function headerBlock(f: {
  path: string;
  type: string;
  size: number;
  mode: number;
  linkpath?: string;
}): Buffer {
  const raw = f.type.length === 1 ? f.type : undefined;
  const buf = Buffer.alloc(512);
  new Header({
    path: f.path,
    type: (raw ? 'File' : f.type) as 'File',
    size: f.size,
    mode: f.mode,
    mtime: new Date(1_700_000_000_000),
    linkpath: f.linkpath ?? '',
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
  }).encode(buf, 0);
  if (raw) {
    // A flag node-tar has no name for: written by hand, with the checksum redone.
    buf.write(raw, 156, 'latin1');
    buf.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of buf) sum += b;
    buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  }
  return buf;
}

const padded = (body: Buffer) => Buffer.concat([body, Buffer.alloc((512 - (body.length % 512)) % 512)]);

/** The uncompressed tar makeTarGz gzips. */
export function makeTar(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'File';
    const body = typeof e.body === 'string' ? Buffer.from(e.body) : (e.body ?? Buffer.alloc(0));
    const hasBody = FILE_FLAGS.has(type);
    let path = e.path;
    let linkpath = e.linkpath;
    if (e.spell === 'pax') {
      blocks.push(new Pax({ path, ...(linkpath === undefined ? {} : { linkpath }) }).encode());
      path = 'innocent.html';
      if (linkpath !== undefined) linkpath = 'innocent.html';
    } else if (e.spell === 'gnu') {
      const long = (t: string, v: string) => {
        const data = Buffer.from(`${v}\0`);
        blocks.push(headerBlock({ path: '././@LongLink', type: t, size: data.length, mode: 0o644 }));
        blocks.push(padded(data));
      };
      long('NextFileHasLongPath', path);
      if (linkpath !== undefined) long('NextFileHasLongLinkpath', linkpath);
      path = 'innocent.html';
      if (linkpath !== undefined) linkpath = 'innocent.html';
    }
    blocks.push(
      headerBlock({
        path,
        type,
        size: e.size ?? (hasBody ? body.length : 0),
        mode: e.mode ?? (type === 'Directory' ? 0o755 : 0o644),
        linkpath,
      }),
    );
    if (hasBody && body.length) blocks.push(padded(body));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
