// Test support for queries.system.test.ts: the bundled components and a Prometheus as real
// processes on 127.0.0.1, each stopped by SIGTERM at the end. A component's port comes from its
// first log line (they bind port 0); Prometheus cannot say which port it bound, so it gets a free
// one, tried again if another process takes it first.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../packages/service/src/testing.ts';
import { repoRoot } from './generated.ts';

export interface Running {
  readonly child: ChildProcess;
  /** Everything it printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

function track(child: ChildProcess): Running {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return {
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const exited = once(child, 'exit');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Starts `packages/<name>/dist/main.js`; resolves with its first JSON log line once it is listening. */
export async function startComponent(
  name: 'web' | 'ambassador' | 'log-adapter',
  env: Record<string, string>,
  onLine?: (line: string) => void,
): Promise<{ proc: Running; started: Record<string, unknown> }> {
  const main = join(repoRoot, 'packages', name, 'dist/main.js');
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = track(child);
  const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let buffer = '';
    let done = false;
    child.stdout?.on('data', (d: Buffer) => {
      buffer += d.toString();
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        onLine?.(line);
        if (!done && /"msg":"(listening|ambassador listening|listening; [^"]*)"/.test(line)) {
          done = true;
          resolve(JSON.parse(line) as Record<string, unknown>);
        }
        nl = buffer.indexOf('\n');
      }
    });
    child.once('exit', (code) => {
      if (!done) reject(new Error(`${name} exited (${code}) before listening:\n${proc.output()}`));
    });
  });
  return { proc, started };
}

/** Debian's prometheus with `configFile`, its data in `dir`; resolves once /-/ready answers 200. */
export async function startPrometheus(
  dir: string,
  configFile: string,
): Promise<{ proc: Running; url: string }> {
  let last = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const proc = track(
      spawn(
        'prometheus',
        [
          `--config.file=${configFile}`,
          `--storage.tsdb.path=${join(dir, `data-${attempt}`)}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--log.level=warn',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      if (proc.child.exitCode !== null) break;
      const ready = await fetch(`${url}/-/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) return { proc, url };
      await sleep(100);
    }
    last = proc.output();
    await proc.stop();
    if (!/address already in use/.test(last)) break;
  }
  throw new Error(`prometheus did not start:\n${last}`);
}
