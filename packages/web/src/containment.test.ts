// Never outside the root, against the real server: traversal in every encoding, dotfiles,
// symlinks that leave the snapshot, long paths — each a clean 4xx with nothing leaked.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Web } from './server.ts';
import { http, Site, startWeb } from './testing.ts';

const SECRET = 'TOP-SECRET-OUTSIDE-THE-ROOT';
const site = new Site();
let web: Web;

beforeAll(async () => {
  // Secrets next to the snapshots: in the site dir, in another snapshot, and elsewhere.
  writeFileSync(join(site.dir, 'secret.txt'), SECRET);
  site.snapshot({ 'other.txt': SECRET }, 'old');
  const snap = site.publish({
    'index.html': 'home\n',
    'sub/page.txt': 'page\n',
    '.env': SECRET,
    '.git/config': SECRET,
  });
  const outside = join(site.dir, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'x.txt'), SECRET);
  symlinkSync(join(site.dir, 'secret.txt'), join(snap, 'abs-link.txt'));
  symlinkSync('../secret.txt', join(snap, 'rel-link.txt'));
  symlinkSync('../old/other.txt', join(snap, 'other-snapshot.txt'));
  symlinkSync(outside, join(snap, 'outdir'));
  symlinkSync('/etc', join(snap, 'etc'));
  symlinkSync('sub/page.txt', join(snap, 'inside-link.txt'));
  // A ConfigMap volume's layout: files are links into a hidden, atomically swapped ..data folder.
  mkdirSync(join(snap, '..2026_11_25_14_00_00.1'));
  writeFileSync(join(snap, '..2026_11_25_14_00_00.1', 'cm.html'), 'from a configmap\n');
  symlinkSync('..2026_11_25_14_00_00.1', join(snap, '..data'));
  symlinkSync('..data/cm.html', join(snap, 'cm.html'));
  web = await startWeb({ WEB_ROOT: site.current });
});
afterAll(async () => {
  await web?.stop();
  site.remove();
});

async function expectRefused(path: string, status?: number) {
  const r = await http(web.port, path);
  expect(r.status, path).toBeGreaterThanOrEqual(400);
  expect(r.status, path).toBeLessThan(500);
  if (status) expect(r.status, path).toBe(status);
  expect(r.text, path).not.toContain(SECRET);
  expect(r.text, path).not.toContain('root:');
}

describe('traversal', () => {
  it.each([
    ['/../secret.txt', 400],
    ['/../../../../etc/passwd', 400],
    ['/%2e%2e/secret.txt', 400],
    ['/%2e%2e%2fsecret.txt', 400],
    ['/..%2fsecret.txt', 400],
    ['/sub/..%2f..%2fsecret.txt', 400],
    ['/%252e%252e/secret.txt', 404],
    ['/%252e%252e%252fsecret.txt', 404],
    ['/..%5csecret.txt', 400],
    ['/sub\\..\\..\\secret.txt', 400],
    ['/index.html%00.txt', 400],
    ['/%c0%ae%c0%ae/secret.txt', 400],
    ['/.snapshots/old/other.txt', 404],
  ])('%s → %i', async (path, status) => {
    await expectRefused(path, status);
  });

  it('refuses absurdly long paths with 414 and huge headers with 431', async () => {
    await expectRefused(`/${'a/'.repeat(2000)}`, 414);
    const r = await http(web.port, '/', { headers: { 'x-big': 'x'.repeat(20_000) } });
    expect(r.status).toBe(431);
  });

  it('answers a garbage request line with 400, not a crash', async () => {
    const reply = await new Promise<string>((resolve) => {
      const s = connect(web.port, '127.0.0.1', () => s.write('GET /\0 HTTP/1.1\r\nHost: x\r\n\r\n'));
      let out = '';
      s.on('data', (d) => {
        out += d.toString();
      });
      s.on('close', () => resolve(out));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect((await http(web.port, '/')).status).toBe(200);
  });
});

describe('dotfiles', () => {
  it('answers 404 for dotfiles and dot-directories', async () => {
    await expectRefused('/.env', 404);
    await expectRefused('/.git/config', 404);
    await expectRefused('/..data/cm.html', 404);
  });

  it('serves links into a hidden folder (a mounted ConfigMap), judging dotfiles by the URL', async () => {
    const r = await http(web.port, '/cm.html');
    expect(r.status).toBe(200);
    expect(r.text).toBe('from a configmap\n');
  });
});

describe('symlinks', () => {
  it('refuses links whose target is outside the resolved root', async () => {
    for (const path of [
      '/abs-link.txt',
      '/rel-link.txt',
      '/other-snapshot.txt',
      '/outdir/x.txt',
      '/etc/passwd',
      '/etc/hostname',
    ])
      await expectRefused(path, 404);
  });

  it('follows links that stay inside the snapshot', async () => {
    const r = await http(web.port, '/inside-link.txt');
    expect(r.status).toBe(200);
    expect(r.text).toBe('page\n');
  });
});
