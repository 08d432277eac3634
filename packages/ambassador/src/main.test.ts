// The process as it runs in the pod: dist/main.js as a child. Exit codes and SIGTERM drain (1 GiB
// streamed each way through it is in streaming.system.test.ts).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { type AddressInfo, connect, createServer as createNetServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeConfig } from './test-files.ts';
import { get, type Origin, startOrigin, waitFor } from './test-helpers.ts';

const pkg = join(import.meta.dirname, '..');
const main = join(pkg, 'dist/main.js');
const children: ChildProcess[] = [];

// dist/main.js, rebuilt only if a source is newer: after `pnpm build` it is not, so this suite
// never rewrites a bundle another suite (the demo) may be running.
beforeAll(() => {
  const sources = [join(pkg, 'src'), join(pkg, '../service/src')].flatMap((dir) =>
    (readdirSync(dir, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .map((f) => statSync(join(dir, f)).mtimeMs),
  );
  if (!existsSync(main) || statSync(main).mtimeMs < Math.max(...sources))
    execFileSync(process.execPath, ['../../scripts/bundle.ts'], { cwd: pkg, stdio: 'pipe' });
}, 60_000);
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

interface Started {
  child: ChildProcess;
  port: number;
  adminPort: number;
  output: () => string;
}

/** Starts dist/main.js and waits for its "listening" line, which carries the bound ports. */
async function start(env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, [main], {
    env: {
      PATH: process.env.PATH,
      AMBASSADOR_HOST: '127.0.0.1',
      AMBASSADOR_LISTEN: '0',
      AMBASSADOR_ADMIN_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  await waitFor(
    'the ambassador to listen',
    () => out.includes('ambassador listening') || child.exitCode !== null,
    20_000,
  );
  const line = JSON.parse(out.split('\n').find((l) => l.includes('ambassador listening'))!);
  return {
    child,
    port: Number(/:(\d+)$/.exec(line.listeners[0])![1]),
    adminPort: line.adminPort,
    output: () => out,
  };
}

function run(
  env: Record<string, string>,
  args: string[] = [],
): { code: number | null; stderr: string; stdout: string } {
  try {
    const stdout = execFileSync(process.execPath, [main, ...args], {
      env: { PATH: process.env.PATH, ...env },
      stdio: 'pipe',
    });
    return { code: 0, stderr: '', stdout: stdout.toString() };
  } catch (err) {
    const e = err as { status: number | null; stderr: Buffer; stdout: Buffer };
    return { code: e.status, stderr: e.stderr.toString(), stdout: e.stdout.toString() };
  }
}

describe('start-up', () => {
  it('--help lists every setting', () => {
    const r = run({}, ['--help']);
    expect(r.code).toBe(0);
    for (const v of [
      'AMBASSADOR_LISTEN',
      'AMBASSADOR_UPSTREAMS',
      'AMBASSADOR_CONFIG',
      'AMBASSADOR_ADMIN_PORT',
      'AMBASSADOR_DRAIN_DELAY',
    ])
      expect(r.stdout).toContain(v);
  });

  it('exits 2 with one line naming a bad setting', () => {
    const r = run({ AMBASSADOR_UPSTREAMS: 'http://127.0.0.1:8080', AMBASSADOR_LISTEN: '99999' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'multipod-ambassador: invalid setting --listen / AMBASSADOR_LISTEN: "99999" is not an integer from 0 to 65535',
    );
  });

  it('exits 2 without upstreams or a config file', () => {
    const r = run({ AMBASSADOR_LISTEN: '0', AMBASSADOR_ADMIN_PORT: '0' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^multipod-ambassador: .*AMBASSADOR_UPSTREAMS/);
  });

  it('exits 2 on a bad config file, naming the line and field', () => {
    const { file } = writeConfig(
      'listeners:\n  - name: web\n    port: eighty\n    pool: p\npools: { p: { upstreams: [http://a:1] } }\n',
    );
    const r = run({ AMBASSADOR_CONFIG: file, AMBASSADOR_ADMIN_PORT: '0' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:3 listeners[0].port`);
  });
});

describe('access log', () => {
  let origin: Origin;
  beforeAll(async () => {
    origin = await startOrigin((_req, res) => res.end('ok'));
  });
  afterAll(() => origin.close());

  it('shows a request on stdout within a second, not when a batch fills', async () => {
    const amb = await start({ AMBASSADOR_UPSTREAMS: origin.url });
    await get(`http://127.0.0.1:${amb.port}/one-request`);
    const sent = Date.now();
    await waitFor('the access log line', () => amb.output().includes('"path":"/one-request"'), 3000);
    expect(Date.now() - sent).toBeLessThan(1500);
  });

  it('still starts with the removed AMBASSADOR_HTTP_ENGINE, saying it is ignored', async () => {
    const amb = await start({ AMBASSADOR_UPSTREAMS: origin.url, AMBASSADOR_HTTP_ENGINE: 'node' });
    expect(amb.output()).toMatch(/"level":"warn".*AMBASSADOR_HTTP_ENGINE.*deprecated and ignored/);
    expect((await get(`http://127.0.0.1:${amb.port}/`)).body).toBe('ok');
  });
});

describe('SIGTERM', () => {
  let origin: Origin;
  beforeAll(async () => {
    origin = await startOrigin((req, res) =>
      setTimeout(() => res.end(`done ${req.url}`), req.url === '/slow' ? 2500 : 0),
    );
  });
  afterAll(() => origin.close());

  it('turns /readyz 503 first, keeps serving through the drain delay, finishes in-flight work, exits 0', async () => {
    const amb = await start({ AMBASSADOR_UPSTREAMS: origin.url, AMBASSADOR_DRAIN_DELAY: '1500ms' });
    expect((await get(`http://127.0.0.1:${amb.adminPort}/readyz`)).status).toBe(200);
    const slow = get(`http://127.0.0.1:${amb.port}/slow`);
    await waitFor('the slow request to reach the origin', () => origin.hits >= 1);
    amb.child.kill('SIGTERM');
    await waitFor(
      'readyz to turn 503',
      async () => (await get(`http://127.0.0.1:${amb.adminPort}/readyz`)).status === 503,
    );
    // Still serving during the drain delay (the load balancer may not have noticed yet).
    expect((await get(`http://127.0.0.1:${amb.port}/quick`)).body).toBe('done /quick');
    const [code] = await once(amb.child, 'exit');
    expect(code).toBe(0);
    const r = await slow;
    expect(r.status).toBe(200);
    expect(r.body).toBe('done /slow');
    // The async access log was flushed before exit.
    expect(amb.output()).toMatch(/"log":"access".*"path":"\/slow".*"status":200/);
    await expect(get(`http://127.0.0.1:${amb.port}/`)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('SIGTERM in TCP mode', () => {
  let echo: Server;
  let echoPort: number;
  beforeAll(async () => {
    echo = createNetServer({ allowHalfOpen: true }, (sock) => sock.pipe(sock));
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    echoPort = (echo.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => echo.close(() => r())));

  it('lets an open connection finish, refuses new ones, exits 0 when it ends', async () => {
    const amb = await start({
      AMBASSADOR_UPSTREAMS: `tcp://127.0.0.1:${echoPort}`,
      AMBASSADOR_DRAIN_DELAY: '200ms',
    });
    const sock = connect(amb.port, '127.0.0.1');
    sock.setEncoding('utf8');
    let got = '';
    sock.on('data', (d) => (got += d));
    await once(sock, 'connect');
    sock.write('before ');
    await waitFor('the first echo', () => got === 'before ');
    amb.child.kill('SIGTERM');
    await waitFor('the listener to close', async () => {
      const probe = connect(amb.port, '127.0.0.1');
      const refused = await new Promise<boolean>((resolve) => {
        probe.once('connect', () => resolve(false));
        probe.once('error', () => resolve(true));
      });
      probe.destroy();
      return refused;
    });
    sock.write('after');
    await waitFor('the echo after SIGTERM', () => got === 'before after');
    expect(amb.child.exitCode).toBeNull();
    sock.end();
    const [code] = await once(amb.child, 'exit');
    expect(code).toBe(0);
  });
});
