// The adapter beside a real nginx (Debian) under load from wrk: http_requests_total per code must
// equal nginx's own access-log line count per status, exactly, across a rotation by rename that
// nginx reopens (USR1) mid-load. The exposition must pass `promtool check metrics`.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtMain, parseExposition, tempDir } from './testing.ts';

let main = '';

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function need(tool: string, args: string[]): void {
  const r = spawnSync(tool, args);
  if (r.error) throw new Error(`${tool} is not installed: run scripts/install-system-deps.sh`);
}

describe('log-adapter beside real nginx under wrk load', () => {
  const tmp = tempDir();
  const log = join(tmp.dir, 'access.log');
  let nginx: ChildProcess | undefined;
  let adapter: ChildProcess | undefined;
  let nginxPort = 0;
  let adapterPort = 0;

  beforeAll(async () => {
    need('nginx', ['-v']);
    need('wrk', ['--version']);
    need('promtool', ['--version']);
    main = builtMain();
    // nginx's workers run as an unprivileged user: they must be able to read the site.
    chmodSync(tmp.dir, 0o755);
    mkdirSync(join(tmp.dir, 'www'));
    writeFileSync(join(tmp.dir, 'www', 'index.html'), '<h1>hello</h1>\n');
    // nginx cannot listen on port 0 and say which it got: try ports until one binds.
    for (let attempt = 0; attempt < 20 && !nginx; attempt++) {
      const port = 20_000 + Math.floor(Math.random() * 20_000);
      writeFileSync(join(tmp.dir, 'nginx.conf'), nginxConf(tmp.dir, log, port));
      const child = spawn(
        'nginx',
        ['-p', tmp.dir, '-c', join(tmp.dir, 'nginx.conf'), '-e', join(tmp.dir, 'error.log')],
        {
          stdio: 'ignore',
        },
      );
      const up = await until(
        'nginx',
        async () => {
          if (child.exitCode !== null) return false;
          try {
            return (await fetch(`http://127.0.0.1:${port}/`)).ok || undefined;
          } catch {
            return undefined;
          }
        },
        10_000,
      ).catch(() => false);
      if (up) {
        nginx = child;
        nginxPort = port;
      } else child.kill('SIGKILL');
    }
    if (!nginx) throw new Error(`nginx did not start: ${readFileSync(join(tmp.dir, 'error.log'), 'utf8')}`);

    adapter = spawn(process.execPath, [main], {
      env: {
        ...process.env,
        ADAPTER_LOG_PATH: log,
        ADAPTER_PORT: '0',
        ADAPTER_HOST: '127.0.0.1',
        ADAPTER_START: 'beginning',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    adapter.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    adapterPort = await until('the adapter', async () => {
      const m = /"port":(\d+)[^\n]*listening/.exec(out);
      return m ? Number(m[1]) : undefined;
    });
  });

  afterAll(async () => {
    for (const c of [adapter, nginx]) {
      if (!c || c.exitCode !== null) continue;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await gone;
    }
    tmp.remove();
  });

  const wrk = (path: string, seconds = 1) =>
    new Promise<void>((resolve, reject) => {
      const w = spawn('wrk', ['-t1', '-c4', `-d${seconds}s`, `http://127.0.0.1:${nginxPort}${path}`], {
        stdio: 'ignore',
      });
      w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`wrk exited ${code}`))));
    });
  const metrics = async () => (await fetch(`http://127.0.0.1:${adapterPort}/metrics`)).text();

  it('counts exactly what nginx logged, per status, across a rename rotation', async () => {
    await Promise.all([wrk('/'), wrk('/missing')]);
    // Rotate as logrotate does: rename, then tell nginx to reopen (USR1) while load continues.
    renameSync(log, `${log}.1`);
    const load = Promise.all([wrk('/teapot', 2), wrk('/err', 2), wrk('/redirect', 2)]);
    await new Promise((r) => setTimeout(r, 300));
    nginx!.kill('SIGUSR1');
    await load;
    await wrk('/');

    const nginxCounts = new Map<string, number>();
    let total = 0;
    for (const file of [`${log}.1`, log])
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const m = /" (\d{3}) /.exec(line);
        if (!m) continue;
        nginxCounts.set(m[1]!, (nginxCounts.get(m[1]!) ?? 0) + 1);
        total++;
      }
    expect(total).toBeGreaterThan(1000);
    expect([...nginxCounts.keys()].sort()).toEqual(['200', '301', '404', '418', '500']);

    const byCode = await until('every line counted', async () => {
      const m = parseExposition(await metrics());
      const counts = new Map<string, number>();
      let sum = 0;
      for (const [k, v] of m) {
        const code = /^http_requests_total\{method="[A-Z]+",code="(\d{3})"\}$/.exec(k)?.[1];
        if (!code) continue;
        counts.set(code, (counts.get(code) ?? 0) + v);
        sum += v;
      }
      return sum >= total ? counts : undefined;
    });
    expect(Object.fromEntries([...byCode].sort())).toEqual(Object.fromEntries([...nginxCounts].sort()));
    const m = parseExposition(await metrics());
    expect(m.get('log_adapter_lines_total{result="unparsed"}')).toBe(0);
    expect(m.get('log_adapter_rotations_total{reason="replaced"}')).toBe(1);
  });

  it('serves an exposition that promtool check metrics accepts without a warning', async () => {
    const check = spawnSync('promtool', ['check', 'metrics'], { input: await metrics(), encoding: 'utf8' });
    expect(check.stdout + check.stderr).toBe('');
    expect(check.status).toBe(0);
  });
});

function nginxConf(dir: string, log: string, port: number): string {
  return `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 256; }
http {
  access_log ${log} combined;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${dir}/www;
    location = /teapot { return 418; }
    location = /err { return 500; }
    location = /redirect { return 301 /; }
  }
}
`;
}
