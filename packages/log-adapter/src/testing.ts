// Helpers for this package's tests: an adapter on port 0 over a temp dir, and reading /metrics back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
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
