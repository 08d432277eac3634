// Disk full on a real 1 MiB tmpfs: a real ENOSPC, not a mock. Mounting needs root, so this runs
// in the system suite (`pnpm test:system`, as root in CI) rather than in the Node-only `pnpm test`.
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { currentTree, makeSyncer, putFile, removeDir, type TestSyncer, tempDir, waitFor } from './testing.ts';

let root: string;
let src: string;
let target: string;
let running: TestSyncer | undefined;

const start = async () => {
  running = makeSyncer({ kind: 'dir', path: src }, { target });
  await running.syncer.prepare();
  await running.syncer.start();
  return running;
};
const put = (rel: string, body: string) => putFile(src, rel, body);

beforeEach(() => {
  root = tempDir('dir');
  src = join(root, 'src');
  target = join(root, 'www');
  mkdirSync(src);
});

afterEach(() => removeDir(root));

describe('disk full', () => {
  let mnt: string | undefined;

  afterEach(async () => {
    await running?.stop();
    running = undefined;
    if (mnt) execFileSync('umount', [mnt]);
    mnt = undefined;
  });

  it('keeps the live snapshot whole when the target file system fills up (a 1 MiB tmpfs)', async () => {
    mkdirSync(target);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', target]);
    mnt = target;
    put('index.html', 'small');
    const t = await start();
    const good = realpathSync(join(target, 'current'));
    put('big.bin', 'x'.repeat(1536 * 1024));
    await waitFor('the failure', () =>
      t.logs.find((l) => l.level === 'error' && /ENOSPC|no space/i.test(l.msg)),
    );
    expect(realpathSync(join(target, 'current'))).toBe(good);
    expect(currentTree(target)).toEqual({ 'index.html': 'small' });
    expect(readdirSync(join(target, '.snapshots')).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    rmSync(join(src, 'big.bin'));
    put('index.html', 'small v2');
    await waitFor('recovery after space came back', () => currentTree(target)?.['index.html'] === 'small v2');
    expect(lstatSync(join(target, 'current')).isSymbolicLink()).toBe(true);
  });
});
