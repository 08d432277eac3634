// Temporary config files for tests; removed when the test process exits.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dirs: string[] = [];
process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ambassador-test-'));
  dirs.push(d);
  return d;
}

export function writeConfig(text: string, dir = tempDir()): { dir: string; file: string } {
  const file = join(dir, 'ambassador.yaml');
  writeFileSync(file, text);
  return { dir, file };
}
