// Test helpers: a served tree laid out as content-sync publishes it (root/.snapshots/<id> with a
// `current` symlink), a started web server on 127.0.0.1 port 0, and a raw HTTP client that sends
// paths byte for byte (fetch would normalize `..` and `%2e` away).
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, loadSettings } from '@multipod/service';
import { waitFor } from '@multipod/service/testing';
import { webSettings } from './config.ts';
import { createWeb, type Web } from './server.ts';

export class Site {
  readonly dir: string;
  readonly current: string;
  #n = 0;
  active = '';

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'web-test-'));
    this.current = join(this.dir, 'current');
  }

  /** Writes a snapshot with these files (path → content) and points `current` at it atomically. */
  publish(files: Record<string, string | Buffer>, id = `s${++this.#n}`): string {
    const snap = this.snapshot(files, id);
    this.swapTo(id);
    return snap;
  }

  snapshot(files: Record<string, string | Buffer>, id: string): string {
    const snap = join(this.dir, '.snapshots', id);
    mkdirSync(snap, { recursive: true });
    for (const [rel, body] of Object.entries(files)) this.write(join(snap, rel), body);
    return snap;
  }

  /** Swaps `current` by renaming a new symlink over it, as content-sync does. */
  swapTo(id: string): void {
    const tmp = join(this.dir, `.current.${id}.tmp`);
    symlinkSync(join('.snapshots', id), tmp);
    renameSync(tmp, this.current);
    this.active = join(this.dir, '.snapshots', id);
  }

  write(path: string, body: string | Buffer): void {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, body);
  }

  /** Path of a file in the active snapshot. */
  path(rel: string): string {
    return join(this.active, rel);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function webConfig(env: Record<string, string> = {}) {
  return loadSettings(webSettings, [], {
    WEB_PORT: '0',
    WEB_HOST: '127.0.0.1',
    WEB_ACCESS_LOG: 'off',
    ...env,
  });
}

export function startWeb(env: Record<string, string>): Promise<Web> {
  return createWeb(webConfig(env), { log: createLogger('web', { level: 'silent' }) });
}

export type LogLine = { level: string; msg: string } & Record<string, unknown>;

/** A web whose JSON log lines are kept, to read back. */
export async function startWebLogged(env: Record<string, string>): Promise<{ web: Web; lines: LogLine[] }> {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  const web = await createWeb(webConfig(env), { log: createLogger('web', { level: 'info', destination }) });
  return { web, lines };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

/** One request with the path sent exactly as given. */
export function http(
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; agent?: import('node:http').Agent | false } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers: opts.headers,
        agent: opts.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString() });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * Sends bytes exactly as given on a fresh connection and returns everything the server sent until
 * it closed (or `ms` passed; then the connection is closed by the client).
 */
export function raw(port: number, bytes: string | Buffer, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(bytes));
    let out = '';
    const timer = setTimeout(() => s.destroy(), ms);
    s.on('data', (d: Buffer) => {
      out += d.toString('latin1');
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET') reject(err);
    });
  });
}

/** Client connections one suite opens, destroyed after each test by closeAll(). */
export class Sockets {
  readonly #open: Socket[] = [];

  /** Resolves once connected. */
  open(port: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(s));
      s.on('error', reject);
      this.#open.push(s);
    });
  }

  closeAll(): void {
    for (const s of this.#open.splice(0)) s.destroy();
  }

  /** The connection is gone (either side closed it). */
  static closed(s: Socket): boolean {
    return s.destroyed || s.readyState === 'closed';
  }
}

/** Polls until `fn` returns true, or fails after `ms`. */
export async function until(
  fn: () => boolean | Promise<boolean>,
  ms = 5000,
  what = 'condition',
): Promise<void> {
  await waitFor(what, async () => (await fn()) || undefined, { timeoutMs: ms });
}
