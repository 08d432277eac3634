// Helpers for this package's tests: an adapter on port 0 over a temp dir, and reading /metrics back.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createLogger, loadSettings } from '@multipod/service';
import { waitFor } from '@multipod/service/testing';
import { type Adapter, createAdapter } from './adapter.ts';
import { settings } from './config.ts';

export interface TestAdapter {
  adapter: Adapter;
  base: string;
  /** Every sample of /metrics as "name{labels}" → value. */
  scrape(accept?: string): Promise<Map<string, number>>;
  text(accept?: string): Promise<string>;
  close(): Promise<void>;
}

const pkg = fileURLToPath(new URL('..', import.meta.url));

/**
 * dist/main.js, rebuilt first only if a source is newer (after `pnpm build` it is not, so tests
 * never rewrite a bundle another suite may be running).
 */
export function builtMain(): string {
  const main = join(pkg, 'dist/main.js');
  const sources = [join(pkg, 'src'), join(pkg, '../service/src')].flatMap((dir) =>
    (readdirSync(dir, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .map((f) => statSync(join(dir, f)).mtimeMs),
  );
  if (!existsSync(main) || statSync(main).mtimeMs < Math.max(...sources)) {
    const b = spawnSync(process.execPath, ['../../scripts/bundle.ts'], { cwd: pkg, encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`build failed: ${b.stderr}`);
  }
  return main;
}

export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'log-adapter-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An adapter with these ADAPTER_* variables, on 127.0.0.1 port 0, with no timers: tests call poll(). */
export async function startAdapter(
  env: Record<string, string>,
  opts: { now?: () => number; log?: NodeJS.WritableStream; watchConfig?: boolean } = {},
): Promise<TestAdapter> {
  const config = loadSettings(settings, [], {
    ADAPTER_PORT: '0',
    ADAPTER_HOST: '127.0.0.1',
    ADAPTER_LOG_LEVEL: 'warn',
    ...env,
  });
  const log = createLogger('log-adapter', {
    level: config.logLevel,
    destination: opts.log ?? devNull(),
  });
  const adapter = createAdapter(config, { log, timers: false, now: opts.now, watchConfig: opts.watchConfig });
  const port = await adapter.start();
  const base = `http://127.0.0.1:${port}`;
  const text = async (accept?: string) =>
    (await fetch(`${base}/metrics`, { headers: accept ? { accept } : {} })).text();
  return {
    adapter,
    base,
    text,
    scrape: async (accept) => parseExposition(await text(accept)),
    close: () => adapter.stop(),
  };
}

export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

/** A log destination that keeps each JSON line, for tests that check what was logged. */
export function logLines(): { stream: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { stream, lines };
}

function devNull(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

export interface AdapterProcess {
  child: ChildProcess;
  /** Its JSON log lines so far. */
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
  /** Resolves once it listens. */
  port: Promise<number>;
  /** /metrics as a map; rejects if no answer comes within 2 s (a stalled event loop). */
  scrape(): Promise<Map<string, number>>;
  /** Waits until log_adapter_lines_total{result="parsed"} is exactly n (a scrape that stalls fails). */
  parsed(n: number, timeoutMs?: number): Promise<number>;
}

/**
 * dist/main.js as a child on 127.0.0.1 port 0, polling every 50 ms. `prefix` runs it under
 * another command (setpriv). The caller kills it (SIGKILL in afterEach is enough).
 */
export function spawnAdapter(
  main: string,
  env: Record<string, string>,
  prefix: string[] = [],
): AdapterProcess {
  const [cmd, ...args] = [...prefix, process.execPath, main];
  const child = spawn(cmd!, args, {
    env: {
      ...process.env,
      ADAPTER_PORT: '0',
      ADAPTER_HOST: '127.0.0.1',
      ADAPTER_POLL_INTERVAL: '50ms',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
      logs.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = waitFor(
    'the adapter listening',
    () => logs.find((l) => l.msg === 'listening; tailing the log')?.port as number | undefined,
    { timeoutMs: 15_000, intervalMs: 25 },
  );
  const scrape = async () => {
    const res = await fetch(`http://127.0.0.1:${await port}/metrics`, { signal: AbortSignal.timeout(2_000) });
    return parseExposition(await res.text());
  };
  const parsed = (n: number, timeoutMs = 15_000) =>
    waitFor(
      `${n} lines counted`,
      async () => {
        const got = (await scrape()).get('log_adapter_lines_total{result="parsed"}');
        return got === n ? got : undefined;
      },
      { timeoutMs, intervalMs: 25 },
    );
  return { child, logs, exited, port, scrape, parsed };
}
