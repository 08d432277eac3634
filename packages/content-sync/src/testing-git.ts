// Test support for git sources: a real smart-HTTP git server on 127.0.0.1 (Debian's
// `git http-backend` behind a small node:http CGI bridge, optionally behind basic auth) and a
// working clone that commits and pushes to it with the real `git`. Needs the `git` package
// (scripts/install-system-deps.sh), so only *.system.test.ts files (and the bench, which imports
// it: hence node's modules only) use it.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';

export const HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

/** True when Debian's git (with git http-backend) is installed. */
export function haveGit(): boolean {
  return existsSync(HTTP_BACKEND);
}

export interface GitServerOptions {
  /** Directory holding the bare repositories (GIT_PROJECT_ROOT). */
  root: string;
  /** Basic auth the bridge demands (401 otherwise), as a server in front of git would. */
  auth?: { user: string; password: string };
  /** Serve https with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
  /** Address to listen on (127.0.0.1); 0.0.0.0 for pods that reach the test machine (e2e). */
  host?: string;
}

export interface GitRequest {
  method: string;
  path: string;
  status: number;
  bytes: number;
  authorization?: string;
}

export interface GitServer {
  /** http(s)://127.0.0.1:<port> */
  readonly base: string;
  readonly port: number;
  /** Requests answered: path, status, response body bytes (for tests that count round trips). */
  readonly requests: GitRequest[];
  /** Closes the listener (and every open connection): the server is down. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
}

/** A smart-HTTP git server: each request runs git http-backend as a CGI program. */
export async function startGitServer(opts: GitServerOptions): Promise<GitServer> {
  const requests: GitServer['requests'] = [];
  const sockets = new Set<Socket>();
  const expected = opts.auth
    ? `Basic ${Buffer.from(`${opts.auth.user}:${opts.auth.password}`).toString('base64')}`
    : undefined;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const note = (status: number): GitRequest => {
      const r: GitRequest = {
        method: req.method ?? '',
        path: url.pathname + url.search,
        status,
        bytes: 0,
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      };
      requests.push(r);
      return r;
    };
    if (expected && req.headers.authorization !== expected) {
      note(401);
      req.resume();
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end('authentication required\n');
      return;
    }
    cgi(opts.root, url, req, res, opts.auth?.user, note);
  };
  const make = (): Server => (opts.tls ? createHttpsServer(opts.tls, handler) : createServer(handler));
  let server: Server = make();
  const track = (s: Server) =>
    s.on('connection', (c: Socket) => {
      sockets.add(c);
      c.on('close', () => sockets.delete(c));
    });
  track(server);
  const host = opts.host ?? '127.0.0.1';
  const port = await listenOn(server, 0, host);
  return {
    base: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    requests,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async restart() {
      server = make();
      track(server);
      await listenOn(server, port, host);
    },
  };
}

function listenOn(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Runs git http-backend for one request: CGI environment in, "Status:" and headers out, body piped. */
function cgi(
  root: string,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
  user: string | undefined,
  note: (status: number) => GitRequest,
): void {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.slice(1),
    REMOTE_ADDR: '127.0.0.1',
    CONTENT_TYPE: req.headers['content-type'] ?? '',
  };
  if (req.headers['content-length']) env.CONTENT_LENGTH = req.headers['content-length'];
  if (req.headers['git-protocol']) env.HTTP_GIT_PROTOCOL = String(req.headers['git-protocol']);
  if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = String(req.headers['content-encoding']);
  if (user) env.REMOTE_USER = user;
  const child = spawn(HTTP_BACKEND, [], { env, stdio: ['pipe', 'pipe', 'ignore'] });
  req.pipe(child.stdin);
  child.stdin.on('error', () => undefined);
  let head = Buffer.alloc(0);
  let started: GitRequest | undefined;
  child.stdout.on('data', (chunk: Buffer) => {
    if (started) {
      started.bytes += chunk.length;
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    const endLf = head.indexOf('\n\n');
    const cut = end !== -1 ? end : endLf;
    if (cut === -1) return;
    const sep = end !== -1 ? 4 : 2;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, cut).toString('latin1').split(/\r?\n/)) {
      const i = line.indexOf(':');
      if (i === -1) continue;
      const name = line.slice(0, i).trim();
      const value = line.slice(i + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else headers[name] = value;
    }
    started = note(status);
    started.bytes = head.length - cut - sep;
    res.writeHead(status, headers);
    res.write(head.subarray(cut + sep));
  });
  child.stdout.on('end', () => {
    if (!started) {
      note(502);
      res.writeHead(502).end('git http-backend said nothing\n');
    } else res.end();
  });
  child.on('error', () => {
    if (!res.headersSent) res.writeHead(500).end('cannot run git http-backend\n');
  });
}

/** A bare repository served by the git server and a working clone that pushes to it. */
export interface GitRepo {
  /** The bare repository on disk. */
  readonly bare: string;
  readonly work: string;
  /** Runs git in the working clone; returns its trimmed stdout. */
  git(...args: string[]): string;
  /** Writes (or, with null, deletes) files, commits all, pushes `branch`; returns the commit id. */
  commit(files: Record<string, string | null>, message?: string, branch?: string): string;
  /** The commit id a ref of the bare repository points to (peeled). */
  rev(ref: string): string;
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'test',
  GIT_AUTHOR_EMAIL: 'test@example.test',
  GIT_COMMITTER_NAME: 'test',
  GIT_COMMITTER_EMAIL: 'test@example.test',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
};

export function runGit(cwd: string, args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...GIT_ENV },
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  }).trim();
}

/** Creates `<root>/<name>.git` (bare, default branch main) and `<root>/<name>-work`. */
export function createRepo(root: string, name = 'site'): GitRepo {
  const bare = join(root, `${name}.git`);
  const work = join(root, `${name}-work`);
  rmSync(bare, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  runGit(root, ['init', '-q', '--bare', '-b', 'main', bare]);
  runGit(work, ['init', '-q', '-b', 'main']);
  runGit(work, ['remote', 'add', 'origin', bare]);
  const git = (...args: string[]) => runGit(work, args);
  return {
    bare,
    work,
    git,
    commit(files, message = 'change', branch = 'main') {
      for (const [rel, body] of Object.entries(files)) {
        const p = join(work, rel);
        if (body === null) rmSync(p, { force: true });
        else {
          mkdirSync(join(p, '..'), { recursive: true });
          writeFileSync(p, body);
        }
      }
      git('add', '-A');
      git('commit', '-q', '--allow-empty', '-m', message);
      git('push', '-q', 'origin', `HEAD:refs/heads/${branch}`);
      return git('rev-parse', 'HEAD');
    },
    rev: (ref) => runGit(bare, ['rev-parse', `${ref}^{commit}`]),
  };
}
