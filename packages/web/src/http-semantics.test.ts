// nginx-grade HTTP against the real server: validators, 304/412, Range/If-Range, HEAD, types,
// directories, precompressed siblings, Cache-Control, security headers, SPA fallback, 404 page.
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Web } from './server.ts';
import { http, Site, startWeb } from './testing.ts';

const site = new Site();
const css = 'body { color: #123456; }\n';
const big = Buffer.alloc(2 * 1024 * 1024, 'b'); // above the cache's largest file: streamed
let web: Web;
let spa: Web;

beforeAll(async () => {
  site.publish({
    'index.html': '<h1>home</h1>\n',
    'about/index.html': '<h1>about</h1>\n',
    'empty/.keep': '',
    'assets/site.3f9a1c.css': css,
    'app.js': 'console.log("plain")\n',
    'app.js.gz': gzipSync('console.log("gz")\n'),
    'app.js.br': Buffer.from('brotli-bytes'),
    'style.css': 'a{}\n',
    'style.css.gz': gzipSync('a{}\n'),
    'logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47]),
    'data.json': '{"a":1}\n',
    'notes.txt': '0123456789abcdef',
    'empty.txt': '',
    'big.bin': big,
    '404.html': '<h1>custom not found</h1>\n',
  });
  web = await startWeb({ WEB_ROOT: site.current });
  spa = await startWeb({ WEB_ROOT: site.current, WEB_SPA_FALLBACK: 'true', WEB_NOT_FOUND_PAGE: 'off' });
});
afterAll(async () => {
  await web?.stop();
  await spa?.stop();
  site.remove();
});

describe('validators and conditional requests', () => {
  it('sends a strong ETag, Last-Modified, Content-Length and Accept-Ranges', async () => {
    const r = await http(web.port, '/notes.txt');
    expect(r.status).toBe(200);
    expect(r.text).toBe('0123456789abcdef');
    expect(r.headers.etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+-10"$/);
    expect(new Date(String(r.headers['last-modified'])).getTime()).toBeGreaterThan(0);
    expect(r.headers['content-length']).toBe('16');
    expect(r.headers['accept-ranges']).toBe('bytes');
  });

  it('answers If-None-Match with 304 and no body, keeping the validators', async () => {
    const { headers } = await http(web.port, '/notes.txt');
    const r = await http(web.port, '/notes.txt', { headers: { 'if-none-match': String(headers.etag) } });
    expect(r.status).toBe(304);
    expect(r.body.length).toBe(0);
    expect(r.headers.etag).toBe(headers.etag);
    expect(
      (await http(web.port, '/notes.txt', { headers: { 'if-none-match': `"x", W/${headers.etag}` } })).status,
    ).toBe(304);
    expect((await http(web.port, '/notes.txt', { headers: { 'if-none-match': '*' } })).status).toBe(304);
    expect((await http(web.port, '/notes.txt', { headers: { 'if-none-match': '"other"' } })).status).toBe(
      200,
    );
  });

  it('answers If-Modified-Since with 304 when not modified since, 200 when modified after', async () => {
    const { headers } = await http(web.port, '/notes.txt');
    const lm = String(headers['last-modified']);
    expect((await http(web.port, '/notes.txt', { headers: { 'if-modified-since': lm } })).status).toBe(304);
    const before = new Date(Date.parse(lm) - 60_000).toUTCString();
    expect((await http(web.port, '/notes.txt', { headers: { 'if-modified-since': before } })).status).toBe(
      200,
    );
    expect((await http(web.port, '/notes.txt', { headers: { 'if-modified-since': 'garbage' } })).status).toBe(
      200,
    );
  });

  it('lets If-None-Match win over If-Modified-Since', async () => {
    const { headers } = await http(web.port, '/notes.txt');
    const r = await http(web.port, '/notes.txt', {
      headers: { 'if-none-match': '"nope"', 'if-modified-since': String(headers['last-modified']) },
    });
    expect(r.status).toBe(200);
  });

  it('fails If-Match and If-Unmodified-Since with 412', async () => {
    const { headers } = await http(web.port, '/notes.txt');
    expect((await http(web.port, '/notes.txt', { headers: { 'if-match': '"nope"' } })).status).toBe(412);
    expect(
      (await http(web.port, '/notes.txt', { headers: { 'if-match': String(headers.etag) } })).status,
    ).toBe(200);
    const old = new Date(Date.parse(String(headers['last-modified'])) - 60_000).toUTCString();
    expect((await http(web.port, '/notes.txt', { headers: { 'if-unmodified-since': old } })).status).toBe(
      412,
    );
  });
});

describe('ranges', () => {
  it('serves one range as 206 with Content-Range', async () => {
    const r = await http(web.port, '/notes.txt', { headers: { range: 'bytes=2-5' } });
    expect(r.status).toBe(206);
    expect(r.text).toBe('2345');
    expect(r.headers['content-range']).toBe('bytes 2-5/16');
    expect(r.headers['content-length']).toBe('4');
  });

  it('serves open-ended and suffix ranges, clamping the end', async () => {
    expect((await http(web.port, '/notes.txt', { headers: { range: 'bytes=10-' } })).text).toBe('abcdef');
    expect((await http(web.port, '/notes.txt', { headers: { range: 'bytes=-3' } })).text).toBe('def');
    const r = await http(web.port, '/notes.txt', { headers: { range: 'bytes=12-999' } });
    expect(r.headers['content-range']).toBe('bytes 12-15/16');
  });

  it('answers an unsatisfiable range with 416 and bytes */size', async () => {
    const r = await http(web.port, '/notes.txt', { headers: { range: 'bytes=100-200' } });
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe('bytes */16');
  });

  it('answers 416 to an open range that starts at or past the end (it sent the whole file)', async () => {
    for (const range of ['bytes=16-', 'bytes=17-', 'bytes=1000-']) {
      const r = await http(web.port, '/notes.txt', { headers: { range } });
      expect(r.status, range).toBe(416);
      expect(r.headers['content-range'], range).toBe('bytes */16');
    }
  });

  it('sends an empty file whole for a range from 0 or a suffix, as nginx does; 416 past it', async () => {
    for (const range of ['bytes=0-', 'bytes=0-0', 'bytes=0-99', 'bytes=-1']) {
      const r = await http(web.port, '/empty.txt', { headers: { range } });
      expect(r.status, range).toBe(200);
      expect(r.body.length).toBe(0);
    }
    expect((await http(web.port, '/empty.txt', { headers: { range: 'bytes=1-' } })).status).toBe(416);
  });

  it('ignores a malformed or multi-range header (whole file, 200)', async () => {
    expect((await http(web.port, '/notes.txt', { headers: { range: 'bytes=abc' } })).status).toBe(200);
    expect((await http(web.port, '/notes.txt', { headers: { range: 'bytes=0-1,4-5' } })).status).toBe(200);
  });

  it('honours If-Range only when the validator matches this version', async () => {
    const { headers } = await http(web.port, '/notes.txt');
    const ok = await http(web.port, '/notes.txt', {
      headers: { range: 'bytes=0-1', 'if-range': String(headers.etag) },
    });
    expect(ok.status).toBe(206);
    const stale = await http(web.port, '/notes.txt', {
      headers: { range: 'bytes=0-1', 'if-range': '"old"' },
    });
    expect(stale.status).toBe(200);
    expect(stale.text).toBe('0123456789abcdef');
    const byDate = await http(web.port, '/notes.txt', {
      headers: { range: 'bytes=0-1', 'if-range': String(headers['last-modified']) },
    });
    expect(byDate.status).toBe(206);
  });

  it('streams ranges of a file too large for the cache', async () => {
    const r = await http(web.port, '/big.bin', { headers: { range: 'bytes=1048576-1048585' } });
    expect(r.status).toBe(206);
    expect(r.text).toBe('bbbbbbbbbb');
    const whole = await http(web.port, '/big.bin');
    expect(whole.body.equals(big)).toBe(true);
  });
});

describe('methods and HEAD', () => {
  it('answers HEAD with the GET headers and no body', async () => {
    const get = await http(web.port, '/notes.txt');
    const head = await http(web.port, '/notes.txt', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers['content-length']).toBe('16');
    expect(head.headers.etag).toBe(get.headers.etag);
    const bigHead = await http(web.port, '/big.bin', { method: 'HEAD' });
    expect(bigHead.headers['content-length']).toBe(String(big.length));
  });

  it('refuses other methods with 405 and Allow', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const r = await http(web.port, '/notes.txt', { method });
      expect(r.status).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD');
    }
  });
});

describe('types, directories, encodings, caching policy', () => {
  it('sets Content-Type with charset for text, none for binary', async () => {
    const types: Record<string, string> = {
      '/': 'text/html; charset=utf-8',
      '/assets/site.3f9a1c.css': 'text/css; charset=utf-8',
      '/app.js': 'text/javascript; charset=utf-8',
      '/data.json': 'application/json; charset=utf-8',
      '/logo.png': 'image/png',
      '/big.bin': 'application/octet-stream',
    };
    for (const [path, type] of Object.entries(types))
      expect((await http(web.port, path, { method: 'HEAD' })).headers['content-type'], path).toBe(type);
  });

  it('redirects /dir to /dir/ (keeping the query) and serves its index.html', async () => {
    const r = await http(web.port, '/about?x=1');
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('/about/?x=1');
    const index = await http(web.port, '/about/');
    expect(index.status).toBe(200);
    expect(index.text).toBe('<h1>about</h1>\n');
  });

  it('answers a directory without index.html with 404, never a listing', async () => {
    expect((await http(web.port, '/empty/')).status).toBe(404);
  });

  it('picks .br over .gz over identity by Accept-Encoding, with Vary', async () => {
    const br = await http(web.port, '/app.js', { headers: { 'accept-encoding': 'gzip, br' } });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.text).toBe('brotli-bytes');
    expect(br.headers.vary).toBe('Accept-Encoding');
    expect(br.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const gz = await http(web.port, '/app.js', { headers: { 'accept-encoding': 'gzip, br;q=0' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    const plain = await http(web.port, '/app.js');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toBe('Accept-Encoding');
    expect(plain.text).toBe('console.log("plain")\n');
    expect(new Set([br.headers.etag, gz.headers.etag, plain.headers.etag]).size).toBe(3);
    const revalidated = await http(web.port, '/app.js', {
      headers: { 'accept-encoding': 'br', 'if-none-match': String(br.headers.etag) },
    });
    expect(revalidated.status).toBe(304);
    expect(revalidated.headers.vary).toBe('Accept-Encoding');
    expect(revalidated.headers['content-encoding']).toBeUndefined();
    const onlyGz = await http(web.port, '/style.css', { headers: { 'accept-encoding': 'br, gzip' } });
    expect(onlyGz.headers['content-encoding']).toBe('gzip');
  });

  it('revalidates HTML, makes fingerprinted assets immutable, revalidates the rest by default', async () => {
    expect((await http(web.port, '/')).headers['cache-control']).toBe('no-cache');
    expect((await http(web.port, '/assets/site.3f9a1c.css')).headers['cache-control']).toBe(
      'public, max-age=31536000, immutable',
    );
    expect((await http(web.port, '/style.css')).headers['cache-control']).toBe('no-cache');
  });

  it('sends security headers on files and errors', async () => {
    for (const path of ['/', '/missing', '/%2e%2e/x']) {
      const r = await http(web.port, path);
      expect(r.headers['x-content-type-options'], path).toBe('nosniff');
      expect(r.headers['x-frame-options'], path).toBe('SAMEORIGIN');
      expect(r.headers['referrer-policy'], path).toBe('strict-origin-when-cross-origin');
    }
  });
});

describe('not found, custom 404 page and SPA fallback', () => {
  it('serves 404.html with status 404 for a missing file', async () => {
    const r = await http(web.port, '/nowhere/page');
    expect(r.status).toBe(404);
    expect(r.text).toBe('<h1>custom not found</h1>\n');
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers.etag).toBeUndefined();
  });

  it('serves the 404 page for a refused dotfile too, and never the SPA index', async () => {
    const r = await http(web.port, '/.env');
    expect(r.status).toBe(404);
    expect(r.text).toBe('<h1>custom not found</h1>\n');
    const spaDot = await http(spa.port, '/.git');
    expect(spaDot.status).toBe(404);
    expect(spaDot.text).toBe('not found\n');
  });

  it('serves index.html for extension-less missing paths with the SPA fallback on', async () => {
    const r = await http(spa.port, '/app/settings/profile');
    expect(r.status).toBe(200);
    expect(r.text).toBe('<h1>home</h1>\n');
    const asset = await http(spa.port, '/missing.js');
    expect(asset.status).toBe(404);
    expect(asset.text).toBe('not found\n');
  });
});

describe('health', () => {
  it('answers /healthz and /readyz on the content port', async () => {
    expect((await http(web.port, '/healthz')).status).toBe(200);
    const ready = await http(web.port, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.text).toContain('serving');
    expect((await http(web.port, '/metrics')).status).toBe(404);
  });
});
