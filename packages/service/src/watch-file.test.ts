// watchFile as Kubernetes updates a mounted ConfigMap: the `..data` symlink swapped for a new
// folder. The watcher must fire for that swap, for a plain write, and never after close().
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from './testing.ts';
import { watchFile } from './watch-file.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function configMapDir(): { file: string; swap(text: string): void } {
  const dir = mkdtempSync(join(tmpdir(), 'watch-file-'));
  dirs.push(dir);
  let n = 0;
  const swap = (text: string) => {
    const version = `..v${++n}`;
    mkdirSync(join(dir, version));
    writeFileSync(join(dir, version, 'app.yaml'), text);
    symlinkSync(version, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  };
  swap('a: 1\n');
  symlinkSync('..data/app.yaml', join(dir, 'app.yaml'));
  return { file: join(dir, 'app.yaml'), swap };
}

describe('watchFile', () => {
  it('fires when a ConfigMap-style ..data swap changes the file, once per burst of events', async () => {
    const cm = configMapDir();
    let calls = 0;
    const w = watchFile(cm.file, () => calls++, { debounceMs: 50, pollMs: 60_000 });
    try {
      cm.swap('a: 2\n');
      await waitFor('the change', () => (calls > 0 ? true : undefined), { timeoutMs: 5_000 });
      await new Promise((r) => setTimeout(r, 200));
      expect(calls).toBe(1);
    } finally {
      w.close();
    }
  });

  it('fires for a plain rewrite of the file, and never after close()', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'watch-file-'));
    dirs.push(dir);
    const file = join(dir, 'app.yaml');
    writeFileSync(file, 'a: 1\n');
    let calls = 0;
    const w = watchFile(file, () => calls++, { debounceMs: 20, pollMs: 60_000 });
    writeFileSync(file, 'a: 2\n');
    await waitFor('the change', () => (calls > 0 ? true : undefined), { timeoutMs: 5_000 });
    w.close();
    const before = calls;
    writeFileSync(file, 'a: 3\n');
    await new Promise((r) => setTimeout(r, 150));
    expect(calls).toBe(before);
  });

  it('polls when no event comes (a folder that does not exist yet)', async () => {
    let calls = 0;
    const w = watchFile('/nonexistent/for/sure/app.yaml', () => calls++, { pollMs: 30 });
    try {
      await waitFor('a poll', () => (calls >= 2 ? true : undefined), { timeoutMs: 5_000 });
    } finally {
      w.close();
    }
  });
});
