// The site both web benchmarks serve: 1 KB, 10 KB and 100 KB files in a snapshot behind a
// `current` symlink, laid out as content-sync publishes.
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const FILES = [
  { name: '1 KB', file: '1k.txt', bytes: 1024 },
  { name: '10 KB', file: '10k.txt', bytes: 10 * 1024 },
  { name: '100 KB', file: '100k.txt', bytes: 100 * 1024 },
] as const;

/** A fresh folder holding www/.snapshots/s1 (the files) and www/current -> it. */
export function makeSite(prefix: string): { dir: string; snap: string; root: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755); // nginx's worker runs as nobody when started by root
  const snap = join(dir, 'www/.snapshots/s1');
  mkdirSync(snap, { recursive: true });
  for (const f of FILES) writeFileSync(join(snap, f.file), `${'x'.repeat(f.bytes - 1)}\n`);
  symlinkSync('.snapshots/s1', join(dir, 'www/current'));
  return { dir, snap, root: join(dir, 'www/current') };
}
