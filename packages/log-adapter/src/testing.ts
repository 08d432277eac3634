// Helpers for this package's tests: an adapter on port 0 over a temp dir, and reading /metrics back.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createLogger, loadSettings } from '@multipod/service';
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
  opts: { now?: () => number; log?: NodeJS.WritableStream } = {},
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
  const adapter = createAdapter(config, { log, timers: false, now: opts.now });
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
