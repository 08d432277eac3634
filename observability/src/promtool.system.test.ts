// The alerting rules through Prometheus's own tool (Debian's prometheus package): `promtool check
// rules` validates them, `promtool test rules` runs multipod.rules.test.yml (each alert fires
// when it should, with its labels and words, and stays quiet just short of it). A copy of the
// tests with one wrong expectation must fail, so a passing run means something.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rulesFile } from './generated.ts';

const testsFile = join(rulesFile, '../multipod.rules.test.yml');
const promtool = (args: string[]) => spawnSync('promtool', args, { encoding: 'utf8', timeout: 60_000 });

describe('promtool', () => {
  let dir: string;
  beforeAll(() => {
    const v = promtool(['--version']);
    if (v.status !== 0) throw new Error('promtool is not installed: run scripts/install-system-deps.sh');
    dir = mkdtempSync(join(tmpdir(), 'multipod-promtool-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('check rules: the rules file is valid', () => {
    const r = promtool(['check', 'rules', rulesFile]);
    expect(r.stdout + r.stderr).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status).toBe(0);
  });

  it('test rules: every alert case passes', () => {
    const r = promtool(['test', 'rules', testsFile]);
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('test rules fails on a wrong expectation (the cases are really compared)', () => {
    copyFileSync(rulesFile, join(dir, 'multipod.rules.yml'));
    const wrong = readFileSync(testsFile, 'utf8').replace(
      'description: "shop/web-1: 10% of requests answered 5xx',
      'description: "shop/web-1: 11% of requests answered 5xx',
    );
    expect(wrong).not.toBe(readFileSync(testsFile, 'utf8'));
    writeFileSync(join(dir, 'tests.yml'), wrong);
    const r = promtool(['test', 'rules', join(dir, 'tests.yml')]);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('HTTPErrorRatioHigh');
  });
});
