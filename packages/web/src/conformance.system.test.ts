// Conformance with nginx: a real nginx (Debian's) and web serve the same snapshot; each case sends
// the same request to both and compares what they answer. The Range, precondition and request-line
// forms of RFC 9110/9112 are generated (testdata/http-forms.ts) and every one is compared: status,
// Content-Range, Content-Length and the bytes. Where web differs on purpose, the expected pair of
// answers is stated with its reason, and asserted as such.
import { chmodSync, mkdirSync, renameSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type Nginx, startNginx } from '@multipod/service/testing/nginx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dateValue,
  IF_RANGES,
  ifRangeValue,
  type Precondition,
  preconditionForms,
  type RequestLine,
  rangeForms,
  rawRequest,
  requestLineForms,
  type Tag,
  tagValue,
  type When,
} from '../testdata/http-forms.ts';
import type { Web } from './server.ts';
import { http, type Reply, raw, Site, startWeb } from './testing.ts';

const site = new Site();
let nginx: Nginx;
let web: Web;
const T = 1_700_000_000; // whole-second mtime, so both servers report the same Last-Modified
const LONG = Buffer.from(Array.from({ length: 2 * 1024 * 1024 + 3 }, (_, i) => i % 251));
/** Files the generated forms are sent to: empty, short (memory), long (streamed). */
const CONTENT: Record<string, Buffer> = {
  'empty.txt': Buffer.alloc(0),
  'short.txt': Buffer.from('abcdefghijklmnopqrstuvwxyz'),
  'long.bin': LONG, // streamed from disk (over WEB_CACHE_MAX_FILE), not from memory
};
const SIZES = Object.fromEntries(Object.entries(CONTENT).map(([f, b]) => [f, b.length]));

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
    ...CONTENT,
  });
  mkdirSync(join(snap, 'emptydir'));
  symlinkSync('../../secret.txt', join(snap, 'link-out.txt'));
  for (const f of ['index.html', 'page.html', 'app.css', 'app.css.gz', 'replace.txt', ...Object.keys(SIZES)])
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

// ---- generated forms ---------------------------------------------------------------------------

/** What a reply is, for comparing: the status, and for 2xx the range, length and bytes. */
function shape(r: Reply): string {
  if (r.status >= 300) return `${r.status} content-range=${r.headers['content-range'] ?? '-'}`;
  return `${r.status} content-range=${r.headers['content-range'] ?? '-'} content-length=${r.headers['content-length']} body=${r.body.length}`;
}

/** A Range header's kind, which decides whether web answers as nginx does. */
type RangeKind = 'same' | 'several' | 'invalid' | 'overflow';

function rangeKind(range: string, size: number): RangeKind {
  const m = /^bytes=(.*)$/i.exec(range);
  if (!m || m[1]!.trim() === '') return 'same'; // not a bytes range: both ignore it
  if (size === 0 && range.includes(',')) return 'same'; // nginx sends an empty file whole
  const specs = m[1]!.split(',').map((x) => /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(x));
  if (specs.some((x) => !x || (x[1] === '' && x[2] === ''))) return 'invalid';
  if (specs.some((x) => x![1]!.length > 18 || x![2]!.length > 18)) return 'overflow';
  if (specs.some((x) => x![1] !== '' && x![2] !== '' && Number(x![2]) < Number(x![1]))) return 'invalid';
  return specs.length > 1 ? 'several' : 'same';
}

describe('Range, generated: first-last, open and suffix ranges at the edges of empty, short and long files', () => {
  it.each(Object.entries(SIZES))(
    '%s (%i bytes): every form as nginx, or as documented',
    async (file, size) => {
      const wrong: string[] = [];
      const forms = rangeForms(size);
      for (const range of forms) {
        const { n, w } = await both(`/${file}`, { headers: { range } });
        const kind = rangeKind(range, size);
        const got = `nginx ${shape(n)} | web ${shape(w)}`;
        const whole = (r: Reply) => r.status === 200 && r.body.length === size;
        const ok =
          kind === 'same'
            ? shape(n) === shape(w) && (w.status >= 300 || w.body.equals(n.body))
            : kind === 'several'
              ? // Deliberate: nginx answers several ranges with multipart/byteranges; web sends the
                // whole file (RFC 9110 lets a server ignore Range; multipart is rare and amplifies).
                n.status === 206 &&
                String(n.headers['content-type']).startsWith('multipart/byteranges') &&
                whole(w)
              : kind === 'invalid'
                ? // Deliberate: an invalid range (last before first, a malformed list) is ignored by
                  // web, whole file, as RFC 9110 §14.2 allows; nginx rejects it with 416.
                  n.status === 416 && whole(w)
                : // Deliberate: numbers past 2^63 overflow nginx's parser (416); web reads them as
                  // "to the end" (RFC 9110: a last-pos past the end means the end), or whole when empty.
                  n.status === 416 &&
                  (size === 0
                    ? whole(w)
                    : w.status === 206 &&
                      w.headers['content-range'] === `bytes 0-${size - 1}/${size}` &&
                      w.body.length === size);
        if (!ok) wrong.push(`${JSON.stringify(range)} (${kind}): ${got}`);
      }
      expect(forms.length).toBeGreaterThan(size === 0 ? 25 : 90);
      expect(wrong).toEqual([]);
    },
  );
});

/** The precondition headers for one server, whose own ETag is `own`. */
function preconditionHeaders(p: Precondition, own: string): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [name, v] of Object.entries(p))
    h[name] = name.endsWith('match') ? tagValue(v as Tag, own) : dateValue(v as When, T);
  return h;
}

const MATCHES: readonly Tag[] = ['own', 'weak-own', 'star', 'list-with-own'];

/** Where web follows RFC 9110 §13.2.2 and nginx does not: the expected pair, or null (the same). */
function preconditionDifference(p: Precondition): { nginx: number; web: number } | null {
  const inm = p['if-none-match'];
  const ims = p['if-modified-since'];
  const im = p['if-match'];
  const ius = p['if-unmodified-since'];
  // "A recipient MUST ignore If-Modified-Since if the request contains an If-None-Match": nginx
  // wants both to hold before it answers 304.
  if (inm && ims && ims !== 'exact' && MATCHES.includes(inm) && !im) return { nginx: 200, web: 304 };
  // nginx's `if_modified_since exact` takes only the exact date; a later one is "not modified since".
  if (ims === 'later' && !inm && !im && !ius) return { nginx: 200, web: 304 };
  // "A recipient MUST ignore If-Unmodified-Since if the request contains an If-Match" (once that
  // one holds, by strong comparison), and one that is not a valid date: nginx answers 412.
  const strongMatch = im !== undefined && im !== 'weak-own' && MATCHES.includes(im);
  if ((ius === 'earlier' && strongMatch) || (ius === 'invalid' && (im === undefined || strongMatch)))
    return { nginx: 412, web: 200 };
  return null;
}

describe('preconditions, generated: each validator matching and not, alone and in pairs', () => {
  it.each(['short.txt', 'long.bin'])('%s: every form as nginx, or as RFC 9110 orders them', async (file) => {
    const { n: n0, w: w0 } = await both(`/${file}`);
    const own = { n: String(n0.headers.etag), w: String(w0.headers.etag) };
    const wrong: string[] = [];
    const forms = preconditionForms();
    for (const p of forms) {
      const [n, w] = await Promise.all([
        http(nginx.port, `/${file}`, { headers: preconditionHeaders(p, own.n) }),
        http(web.port, `/${file}`, { headers: preconditionHeaders(p, own.w) }),
      ]);
      const expected = preconditionDifference(p) ?? { nginx: n.status, web: n.status };
      if (n.status !== expected.nginx || w.status !== expected.web)
        wrong.push(
          `${JSON.stringify(p)}: nginx ${n.status} | web ${w.status} (expected ${JSON.stringify(expected)})`,
        );
      if (w.status === 304 && (w.headers.etag !== own.w || w.body.length !== 0))
        wrong.push(`${JSON.stringify(p)}: web 304 without its ETag or with a body`);
      if (w.status === 200 && !w.body.equals(CONTENT[file]!))
        wrong.push(`${JSON.stringify(p)}: not the file's bytes`);
    }
    expect(forms.length).toBeGreaterThan(100);
    expect(wrong).toEqual([]);
  });

  it.each(['short.txt', 'long.bin'])(
    '%s: If-Range with a matching or other ETag or date, over ranges',
    async (file) => {
      const { n: n0, w: w0 } = await both(`/${file}`);
      const own = { n: String(n0.headers.etag), w: String(w0.headers.etag) };
      const wrong: string[] = [];
      for (const v of IF_RANGES)
        for (const range of ['bytes=0-4', 'bytes=-3', 'bytes=5-', 'bytes=100000000-']) {
          const [n, w] = await Promise.all([
            http(nginx.port, `/${file}`, { headers: { range, 'if-range': ifRangeValue(v, own.n, T) } }),
            http(web.port, `/${file}`, { headers: { range, 'if-range': ifRangeValue(v, own.w, T) } }),
          ]);
          if (shape(n) !== shape(w) || (w.status < 300 && !w.body.equals(n.body)))
            wrong.push(`if-range ${v}, ${range}: nginx ${shape(n)} | web ${shape(w)}`);
        }
      expect(wrong).toEqual([]);
    },
  );
});

/** Status of a raw reply, `0.9` for a body without a status line (HTTP/0.9), `none` for nothing. */
function rawStatus(reply: string): string {
  const m = /^HTTP\/1\.[01] (\d{3}) /.exec(reply);
  return m ? m[1]! : reply === '' ? 'none' : '0.9';
}

function rawBody(reply: string): number {
  const i = reply.indexOf('\r\n\r\n');
  return i === -1 ? 0 : reply.length - i - 4;
}

describe('request lines, generated: versions × targets × Host forms, and methods', () => {
  it('every form as nginx, or as documented', async () => {
    const forms = requestLineForms('/page.html');
    const key = (r: RequestLine) =>
      `${r.method} ${JSON.stringify(r.target)} ${JSON.stringify(r.version)} host=${r.host}`;
    const replies = new Map<string, { n: string; w: string }>();
    // A few at a time: each is its own connection.
    for (let i = 0; i < forms.length; i += 8)
      await Promise.all(
        forms.slice(i, i + 8).map(async (r) => {
          const bytes = rawRequest(r);
          const [n, w] = await Promise.all([raw(nginx.port, bytes, 3000), raw(web.port, bytes, 3000)]);
          replies.set(key(r), { n, w });
        }),
      );
    const wrong: string[] = [];
    for (const r of forms) {
      const { n, w } = replies.get(key(r))!;
      const [ns, ws] = [rawStatus(n), rawStatus(w)];
      let ok: boolean;
      if (r.version === '')
        // Deliberate: a request line without a version is HTTP/0.9, which nginx still answers
        // (a body without status or headers); web refuses it: nothing to log or cache safely.
        ok = ws === '400';
      else if (r.version === 'HTTP/1.2') {
        // Deliberate: nginx serves HTTP/1.2 as 1.1 (RFC 9112 §2.3 says a server should); Node's
        // parser (llhttp) refuses minor versions it does not know, so web answers 400.
        const as11 = replies.get(key({ ...r, version: 'HTTP/1.1' }))!;
        ok = ws === '400' && ns === rawStatus(as11.n);
      } else if (r.method === 'FOO' && r.target.startsWith('/'))
        // Deliberate: nginx answers an unknown method with 405; Node's parser refuses it (400).
        ok = ns === '405' && ws === '400';
      else ok = ns === ws && (ns !== '200' || r.method === 'HEAD' || rawBody(n) === rawBody(w));
      if (!ok) wrong.push(`${key(r)}: nginx ${ns} | web ${ws}`);
    }
    expect(forms.length).toBeGreaterThan(700);
    expect(wrong).toEqual([]);
  });
});
