// Test support: starts a real nginx (from Debian) on a 127.0.0.1 port, with its config, pid and temp
// files in a temp dir and `daemon off`, for the suites that compare with nginx or put it beside a
// component, and for `pnpm bench web`. Node builtins only; never bundled into an image.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './testing.ts';

export interface Nginx {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

export function findNginx(): string | null {
  for (const p of ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx']) {
    if (spawnSync(p, ['-v']).status === 0) return p;
  }
  return null;
}

/** `server` is the body of the server block (after listen); `http` extra http-level directives. */
export async function startNginx(dir: string, opts: { server: string; http?: string }): Promise<Nginx> {
  const bin = findNginx();
  if (!bin) throw new Error('nginx is not installed: run scripts/install-system-deps.sh');
  mkdirSync(join(dir, 'temp'), { recursive: true });
  let lastErr = '';
  // The port is free when chosen but could be taken before nginx binds it: try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      `worker_processes 1;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  client_body_temp_path ${join(dir, 'temp')};
  proxy_temp_path ${join(dir, 'temp')};
  fastcgi_temp_path ${join(dir, 'temp')};
  uwsgi_temp_path ${join(dir, 'temp')};
  scgi_temp_path ${join(dir, 'temp')};
  ${opts.http ?? ''}
  server {
    listen 127.0.0.1:${port};
    ${opts.server}
  }
}
`,
    );
    const child = spawn(bin, ['-c', conf, '-p', dir, '-e', join(dir, 'error.log')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const up = await waitForPort(port, child, 10_000);
    if (up) {
      return {
        port,
        child,
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise<void>((r) => child.once('exit', () => r()));
          child.kill('SIGQUIT');
          const t = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(t);
        },
      };
    }
    lastErr = stderr;
    child.kill('SIGKILL');
  }
  throw new Error(`nginx did not start: ${lastErr}`);
}

async function waitForPort(port: number, child: ChildProcess, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return false;
    try {
      const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return false;
}
