// The memory cache never serves bytes from an old version: in-place edits (even with mtime put
// back), rsync-style replacement with the same size and mtime, deletion, creation.
import { renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Web } from './server.ts';
import { http, Site, startWeb, until } from './testing.ts';

const site = new Site();
const T = 1_700_000_000; // a fixed mtime in whole seconds
let web: Web;

beforeAll(async () => {
  site.publish({ 'a.txt': 'version-1', 'b.txt': 'bbbb', 'c.txt': 'gone soon' });
  web = await startWeb({ WEB_ROOT: site.current });
});
afterAll(async () => {
  await web?.stop();
  site.remove();
});

/** Requests twice so the second answer is a cache hit (when the cache works). */
async function warm(path: string) {
  await http(web.port, path);
  return http(web.port, path);
}

describe('file cache', () => {
  it('holds hot files in memory', async () => {
    await warm('/b.txt');
    expect(web.files.cache.size).toBeGreaterThan(0);
  });

  it('serves the new bytes after an rsync-style replace that keeps size and mtime, with a new ETag', async () => {
    const path = site.path('a.txt');
    utimesSync(path, T, T); // whole seconds, so the mtime can be put back exactly
    const first = await warm('/a.txt');
    writeFileSync(`${path}.tmp`, 'version-2'); // same size
    utimesSync(`${path}.tmp`, T, T); // same mtime (rsync -t)
    renameSync(`${path}.tmp`, path);
    const after = await http(web.port, '/a.txt', {
      headers: { 'if-none-match': String(first.headers.etag) },
    });
    expect(after.status).toBe(200); // no false 304: the inode is part of the ETag
    expect(after.text).toBe('version-2');
    expect(after.headers.etag).not.toBe(first.headers.etag);
    expect(after.headers['last-modified']).toBe(first.headers['last-modified']);
  });

  it('serves the new bytes after an in-place edit that puts the mtime back (ctime changed)', async () => {
    const path = site.path('b.txt');
    utimesSync(path, T, T);
    const first = await warm('/b.txt');
    writeFileSync(path, 'BBBB');
    utimesSync(path, T, T);
    expect(statSync(path).mtimeMs).toBe(T * 1000);
    const after = await http(web.port, '/b.txt');
    expect(after.text).toBe('BBBB');
    // Same inode, size and mtime: the ETag cannot tell (see README); the cache still can, by ctime.
    expect(after.headers.etag).toBe(first.headers.etag);
  });

  it('stops serving a deleted file at once', async () => {
    expect((await warm('/c.txt')).status).toBe(200);
    unlinkSync(site.path('c.txt'));
    expect((await http(web.port, '/c.txt')).status).toBe(404);
  });

  it('serves a file created after start and an edit that changes the size', async () => {
    expect((await http(web.port, '/new.txt')).status).toBe(404);
    writeFileSync(site.path('new.txt'), 'hello');
    expect((await warm('/new.txt')).text).toBe('hello');
    writeFileSync(site.path('new.txt'), 'hello, longer');
    expect((await http(web.port, '/new.txt')).text).toBe('hello, longer');
  });

  it('picks up a .br sibling added next to an unchanged, cached file', async () => {
    writeFileSync(site.path('late.css'), 'plain late');
    const ae = { 'accept-encoding': 'br' };
    expect((await warm('/late.css')).headers['content-encoding']).toBeUndefined();
    writeFileSync(site.path('late.css.br'), 'br late');
    await until(
      async () => (await http(web.port, '/late.css', { headers: ae })).text === 'br late',
      5000,
      '.br served',
    );
  });

  it('stops serving a .br sibling that was removed', async () => {
    writeFileSync(site.path('s.css'), 'plain');
    writeFileSync(site.path('s.css.br'), 'brbytes');
    const ae = { 'accept-encoding': 'br' };
    expect((await http(web.port, '/s.css', { headers: ae })).text).toBe('brbytes');
    expect((await http(web.port, '/s.css', { headers: ae })).text).toBe('brbytes');
    unlinkSync(site.path('s.css.br'));
    const r = await http(web.port, '/s.css', { headers: ae });
    expect(r.text).toBe('plain');
    expect(r.headers['content-encoding']).toBeUndefined();
  });
});
