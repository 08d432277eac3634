// Test support: the real web servers whose stock access logs the adapter reads (Debian's nginx,
// apache2, caddy, haproxy), each started on 127.0.0.1 with its stock log format, its config, pid
// and logs in a temp dir, in the foreground, and stopped by pid. None of them can listen on port 0
// and say which port it got, so a free port is chosen and the start is retried if it was taken.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { join } from 'node:path';
import { freePort } from '@multipod/service/testing';

export interface Producer {
  port: number;
  stop(): Promise<void>;
}

/** Throws a clear error when a peer is not installed. */
export function need(tool: string, args: string[] = ['-v']): void {
  const r = spawnSync(tool, args);
  if (r.error) throw new Error(`${tool} is not installed: run scripts/install-system-deps.sh`);
}

async function answers(port: number, child: ChildProcess, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    try {
      await (await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) })).arrayBuffer();
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return false;
}

function stopper(child: ChildProcess, signal: NodeJS.Signals): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
}

/** Starts `command(port)` until it answers HTTP on the port; `conf(port)` writes its config first. */
async function startOn(
  what: string,
  conf: (port: number) => void,
  command: () => [string, string[], Record<string, string>?],
  stopSignal: NodeJS.Signals,
  errorLog: () => string,
): Promise<Producer> {
  let last = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    conf(port);
    const [cmd, args, env] = command();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    if (await answers(port, child, 15_000)) return { port, stop: stopper(child, stopSignal) };
    last = `${stderr}${errorLog()}`;
    child.kill('SIGKILL');
  }
  throw new Error(`${what} did not start: ${last}`);
}

const readOr = (file: string) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};

/** A site both the servers' unprivileged workers can read. */
export function site(dir: string): string {
  const www = join(dir, 'www');
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, 'index.html'), '<h1>hello</h1>\n');
  for (const d of [dir, www]) chmodSync(d, 0o755);
  chmodSync(join(www, 'index.html'), 0o644);
  return www;
}

/** The `main` format of the official nginx image's /etc/nginx/nginx.conf, as it ships. */
export const NGINX_MAIN = `log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';`;

/**
 * nginx with Debian's logging: `access_log <file>;` (no format: nginx's predefined combined), plus
 * whatever `logging` adds (the official image's main, or syslog).
 */
export function startNginx(dir: string, logging: string): Promise<Producer> {
  need('nginx');
  const www = site(dir);
  const conf = join(dir, 'nginx.conf');
  return startOn(
    'nginx',
    (port) =>
      writeFileSync(
        conf,
        `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 256; }
http {
  include /etc/nginx/mime.types;
  ${logging}
  client_body_temp_path ${dir}/temp;
  proxy_temp_path ${dir}/temp;
  fastcgi_temp_path ${dir}/temp;
  uwsgi_temp_path ${dir}/temp;
  scgi_temp_path ${dir}/temp;
  server {
    listen 127.0.0.1:${port};
    root ${www};
    location = /teapot { return 418; }
    location = /redirect { return 301 /; }
    location = /error { return 500; }
  }
}
`,
      ),
    () => ['nginx', ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')]],
    'SIGQUIT',
    () => readOr(join(dir, 'error.log')),
  );
}

/**
 * Apache httpd with Debian's own LogFormat lines (read from /etc/apache2/apache2.conf, as shipped)
 * and its stock CustomLog directives: combined (sites-available/000-default.conf) and
 * vhost_combined (conf-available/other-vhosts-access-log.conf). Workers run as www-data: httpd
 * refuses to serve as root.
 */
export function startApache(dir: string, logs: string): Promise<Producer> {
  need('apache2');
  const www = site(dir);
  const stockFormats = readFileSync('/etc/apache2/apache2.conf', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('LogFormat '))
    .join('\n');
  const conf = join(dir, 'httpd.conf');
  const mod = (m: string) => `LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so`;
  return startOn(
    'apache2',
    (port) =>
      writeFileSync(
        conf,
        `ServerRoot /etc/apache2
DefaultRuntimeDir ${dir}
PidFile ${dir}/apache2.pid
Mutex file:${dir} default
ErrorLog ${dir}/error.log
LogLevel warn
${['mpm_event', 'authz_core', 'dir', 'mime', 'alias'].map(mod).join('\n')}
TypesConfig /etc/mime.types
User www-data
Group www-data
ServerName localhost
Listen 127.0.0.1:${port}
DocumentRoot ${www}
<Directory ${www}>
  Require all granted
</Directory>
<Location /forbidden>
  Require all denied
</Location>
Redirect 301 /redirect /
Redirect gone /gone
${stockFormats}
CustomLog ${logs}/access.log combined
CustomLog ${logs}/other_vhosts_access.log vhost_combined
`,
      ),
    () => ['apache2', ['-f', conf, '-DFOREGROUND']],
    'SIGTERM',
    () => readOr(join(dir, 'error.log')),
  );
}

/** Caddy's file_server with its access log to a file (JSON, Caddy's default for a file). */
export function startCaddy(dir: string, logs: string): Promise<Producer> {
  need('caddy', ['version']);
  const www = site(dir);
  const conf = join(dir, 'Caddyfile');
  return startOn(
    'caddy',
    (port) =>
      writeFileSync(
        conf,
        `{
	admin off
	auto_https off
}
http://127.0.0.1:${port} {
	root * ${www}
	log {
		output file ${logs}/access.log
	}
	respond /teapot 418
	respond /error 500
	redir /redirect / 301
	file_server
}
`,
      ),
    () => [
      'caddy',
      ['run', '--config', conf, '--adapter', 'caddyfile'],
      { HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') },
    ],
    'SIGTERM',
    () => '',
  );
}

/** HAProxy in front of `backend`, `option httplog`, logging to syslog at `syslogPort` (its stock way). */
export function startHaproxy(dir: string, backend: number, syslogPort: number): Promise<Producer> {
  need('haproxy');
  const conf = join(dir, 'haproxy.cfg');
  return startOn(
    'haproxy',
    (port) =>
      writeFileSync(
        conf,
        `global
	log 127.0.0.1:${syslogPort} local0
defaults
	mode http
	log global
	option httplog
	timeout connect 2s
	timeout client 10s
	timeout server 10s
frontend fe
	bind 127.0.0.1:${port}
	default_backend be
backend be
	server s1 127.0.0.1:${backend}
`,
      ),
    () => ['haproxy', ['-f', conf, '-db']],
    'SIGUSR1',
    () => '',
  );
}

/** A backend for HAProxy: the status is the path's number (/404 → 404), else 200. */
export async function startBackend(): Promise<{ port: number; server: Server }> {
  const server = createHttpServer((req, res) => {
    req.resume();
    const code = Number(/^\/(\d{3})$/.exec(req.url ?? '')?.[1] ?? 200);
    res.writeHead(code, { 'content-type': 'text/plain' }).end(req.method === 'HEAD' ? undefined : 'ok\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return { port: typeof addr === 'object' && addr ? addr.port : 0, server };
}
