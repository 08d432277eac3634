// Conformance with nginx: a real nginx (Debian's) and web serve the same snapshot; each case sends
// the same request to both and compares status codes and validator behaviour. Where web differs
// on purpose, the case states both answers and why.
import { chmodSync, mkdirSync, renameSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Nginx, startNginx } from '../testdata/nginx.ts';
import type { Web } from './server.ts';
import { http, type Reply, Site, startWeb } from './testing.ts';

const site = new Site();
let nginx: Nginx;
let web: Web;
const T = 1_700_000_000; // whole-second mtime, so both servers report the same Last-Modified

beforeAll(async () => {
  chmodSync(site.dir, 0o755); // nginx's worker runs as nobody when the test runs as root
  writeFileSync(join(site.dir, 'secret.txt'), 'outside the root');
  const snap = site.publish({
    'index.html': '<h1>home</h1>\n',
    'page.html': '<p>0123456789abcdefghij</p>\n',
    'docs/index.html': '<h1>docs</h1>\n',
    'a/b': 'nested file a/b\n',
    'app.css': 'body { margin: 0 }\n',
    'app.css.gz': gzipSync('body { margin: 0 }\n'),
    '.env': 'SECRET=1\n',
    'replace.txt': 'version-1\n',
  });
  mkdirSync(join(snap, 'emptydir'));
  symlinkSync('../../secret.txt', join(snap, 'link-out.txt'));
  for (const f of ['index.html', 'page.html', 'app.css', 'app.css.gz', 'replace.txt'])
    utimesSync(join(snap, f), T, T);
  nginx = await startNginx(join(site.dir, 'nginx'), {
    http: 'gzip_static on; gzip_vary on; charset utf-8;',
    server: `root ${site.current};`,
  });
  web = await startWeb({ WEB_ROOT: site.current, WEB_NOT_FOUND_PAGE: 'off' });
});
afterAll(async () => {
  await nginx?.stop();
  await web?.stop();
  site.remove();
});

async function both(
  path: string,
  opts: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ n: Reply; w: Reply }> {
  const [n, w] = await Promise.all([http(nginx.port, path, opts), http(web.port, path, opts)]);
  return { n, w };
}

/** Same status from both. */
async function same(path: string, opts: { method?: string; headers?: Record<string, string> } = {}) {
  const { n, w } = await both(path, opts);
  expect(w.status, `${opts.method ?? 'GET'} ${path}`).toBe(n.status);
  return { n, w };
}

describe('plain requests', () => {
  it.each(['/', '/page.html', '/index.html', '/docs/', '/a/b', '/app.css'])(
    'GET %s → same status and body',
    async (p) => {
      const { n, w } = await same(p);
      expect(w.status).toBe(200);
      expect(w.text).toBe(n.text);
      expect(w.headers['content-length']).toBe(n.headers['content-length']);
    },
  );

  it.each(['/missing', '/missing/', '/docs/missing.html', '/page.html/'])(
    'GET %s → 404 from both',
    async (p) => {
      expect((await same(p)).w.status).toBe(404);
    },
  );

  it('HEAD: same status and length, no body', async () => {
    const { n, w } = await same('/page.html', { method: 'HEAD' });
    expect(w.headers['content-length']).toBe(n.headers['content-length']);
    expect(w.body.length).toBe(0);
    expect(n.body.length).toBe(0);
  });

  it('POST to a file: 405 from both', async () => {
    expect((await same('/page.html', { method: 'POST' })).w.status).toBe(405);
  });

  it('text types carry charset=utf-8 in both', async () => {
    const { n, w } = await same('/page.html');
    expect(w.headers['content-type']).toBe(n.headers['content-type']);
  });
});

describe('redirects and directories', () => {
  it('/docs → 301 to /docs/ from both', async () => {
    const { n, w } = await same('/docs');
    expect(w.status).toBe(301);
    // nginx sends an absolute URL (absolute_redirect on); web a path, which RFC 9110 allows and
    // which stays right behind the ambassador whatever host and port the client used.
    expect(String(n.headers.location)).toMatch(/\/docs\/$/);
    expect(w.headers.location).toBe('/docs/');
  });

  it('a directory without index.html: nginx 403, web 404', async () => {
    // Deliberate: web does not reveal that a directory exists when it has nothing to serve.
    const { n, w } = await both('/emptydir/');
    expect(n.status).toBe(403);
    expect(w.status).toBe(404);
  });
});

describe('validators', () => {
  it('both send ETag and the same Last-Modified', async () => {
    const { n, w } = await same('/page.html');
    expect(n.headers.etag).toBeTruthy();
    expect(w.headers.etag).toBeTruthy();
    expect(w.headers['last-modified']).toBe(n.headers['last-modified']);
  });

  it('If-None-Match with each server’s own ETag → 304 from both; a foreign one → 200', async () => {
    const { n, w } = await both('/page.html');
    const n2 = await http(nginx.port, '/page.html', { headers: { 'if-none-match': String(n.headers.etag) } });
    const w2 = await http(web.port, '/page.html', { headers: { 'if-none-match': String(w.headers.etag) } });
    expect([n2.status, w2.status]).toEqual([304, 304]);
    expect(w2.headers.etag).toBe(w.headers.etag);
    expect((await same('/page.html', { headers: { 'if-none-match': '"not-this"' } })).w.status).toBe(200);
  });

  it('If-Modified-Since equal to Last-Modified → 304 from both; earlier → 200', async () => {
    const lm = new Date(T * 1000).toUTCString();
    expect((await same('/page.html', { headers: { 'if-modified-since': lm } })).w.status).toBe(304);
    const earlier = new Date((T - 60) * 1000).toUTCString();
    expect((await same('/page.html', { headers: { 'if-modified-since': earlier } })).w.status).toBe(200);
  });

  it('If-Modified-Since later than Last-Modified: nginx 200 (exact match), web 304', async () => {
    // Deliberate: RFC 9110 §13.1.3 says "not modified since" → 304; nginx's default
    // `if_modified_since exact` only accepts the exact date and re-sends the body.
    const later = new Date((T + 3600) * 1000).toUTCString();
    const { n, w } = await both('/page.html', { headers: { 'if-modified-since': later } });
    expect(n.status).toBe(200);
    expect(w.status).toBe(304);
  });

  it('a replace that keeps size and mtime: nginx gives a false 304, web the new bytes', async () => {
    // Deliberate, and the reason web's ETag holds the inode: content-sync and rsync -t replace
    // files with new inodes while keeping size and mtime; nginx's ETag (mtime-size) cannot see it.
    const { n, w } = await both('/replace.txt');
    const path = site.path('replace.txt');
    writeFileSync(`${path}.tmp`, 'version-2\n');
    utimesSync(`${path}.tmp`, T, T);
    renameSync(`${path}.tmp`, path);
    const n2 = await http(nginx.port, '/replace.txt', {
      headers: { 'if-none-match': String(n.headers.etag) },
    });
    const w2 = await http(web.port, '/replace.txt', { headers: { 'if-none-match': String(w.headers.etag) } });
    expect(n2.status).toBe(304);
    expect(w2.status).toBe(200);
    expect(w2.text).toBe('version-2\n');
  });
});

describe('ranges', () => {
  it.each(['bytes=0-4', 'bytes=5-', 'bytes=-6', 'bytes=3-999'])(
    'Range %s → 206, same bytes and Content-Range',
    async (range) => {
      const { n, w } = await same('/page.html', { headers: { range } });
      expect(w.status).toBe(206);
      expect(w.text).toBe(n.text);
      expect(w.headers['content-range']).toBe(n.headers['content-range']);
    },
  );

  it('an unsatisfiable range → 416 with bytes */size from both', async () => {
    const { n, w } = await same('/page.html', { headers: { range: 'bytes=1000-2000' } });
    expect(w.status).toBe(416);
    expect(w.headers['content-range']).toBe(n.headers['content-range']);
  });

  it('If-Range: own ETag or the date → 206; another ETag → 200 from both', async () => {
    const { n, w } = await both('/page.html');
    const range = 'bytes=0-4';
    const n2 = await http(nginx.port, '/page.html', {
      headers: { range, 'if-range': String(n.headers.etag) },
    });
    const w2 = await http(web.port, '/page.html', { headers: { range, 'if-range': String(w.headers.etag) } });
    expect([n2.status, w2.status]).toEqual([206, 206]);
    const lm = new Date(T * 1000).toUTCString();
    expect((await same('/page.html', { headers: { range, 'if-range': lm } })).w.status).toBe(206);
    expect((await same('/page.html', { headers: { range, 'if-range': '"old"' } })).w.status).toBe(200);
  });

  it('several ranges: nginx 206 multipart/byteranges, web the whole file (200)', async () => {
    // Deliberate: RFC 9110 lets a server ignore Range; multipart answers are rare in practice
    // (browsers and download tools ask for one range) and a classic amplification vector.
    const { n, w } = await both('/page.html', { headers: { range: 'bytes=0-1,4-5' } });
    expect(n.status).toBe(206);
    expect(String(n.headers['content-type'])).toContain('multipart/byteranges');
    expect(w.status).toBe(200);
  });
});

describe('precompressed siblings', () => {
  it('gzip accepted → the .gz with Content-Encoding and Vary from both', async () => {
    const { n, w } = await same('/app.css', { headers: { 'accept-encoding': 'gzip' } });
    expect(w.headers['content-encoding']).toBe('gzip');
    expect(n.headers['content-encoding']).toBe('gzip');
    expect(w.body.equals(n.body)).toBe(true);
    expect(w.headers.vary).toBe(n.headers.vary);
  });

  it('gzip not accepted → the plain file from both', async () => {
    const { n, w } = await same('/app.css');
    expect(w.headers['content-encoding']).toBeUndefined();
    expect(n.headers['content-encoding']).toBeUndefined();
  });
});

describe('never outside the root', () => {
  it.each([
    '/../secret.txt',
    '/%2e%2e/secret.txt',
    '/..%2f..%2fsecret.txt',
    '/a%00.txt',
    '/docs/../../secret.txt',
  ])('%s → 400 from both', async (p) => {
    expect((await same(p)).w.status).toBe(400);
  });

  it.each(['/%252e%252e/secret.txt', '/x%252fsecret.txt'])('double-encoded %s → 404 from both', async (p) => {
    expect((await same(p)).w.status).toBe(404);
  });

  it('an encoded slash: nginx decodes %2f and serves /a/b, web refuses with 400', async () => {
    // Deliberate: a %2f is never needed to name a static file and is a classic filter bypass.
    const { n, w } = await both('/a%2fb');
    expect(n.status).toBe(200);
    expect(w.status).toBe(400);
  });

  it('a backslash: nginx looks for a file named with it (404), web refuses with 400', async () => {
    const { n, w } = await both('/docs\\..\\..\\secret.txt');
    expect(n.status).toBe(404);
    expect(w.status).toBe(400);
  });

  it('a dotfile: nginx serves it by default, web answers 404', async () => {
    // Deliberate: .env, .git and friends are the first thing scanners ask for.
    const { n, w } = await both('/.env');
    expect(n.status).toBe(200);
    expect(w.status).toBe(404);
    expect(w.text).not.toContain('SECRET');
  });

  it('a symlink leaving the snapshot: nginx follows it (disable_symlinks off), web answers 404', async () => {
    const { n, w } = await both('/link-out.txt');
    expect(n.status).toBe(200);
    expect(w.status).toBe(404);
    expect(w.text).not.toContain('outside the root');
  });

  it('an absurdly long path: nginx 404 (no such file), web 414 before touching the disk', async () => {
    const p = `/${'a/'.repeat(2000)}x`;
    const { n, w } = await both(p);
    expect(n.status).toBe(404);
    expect(w.status).toBe(414);
  });
});
