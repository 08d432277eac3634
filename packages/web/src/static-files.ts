// The file-serving core shared by both request paths: `serveCached` answers a GET/HEAD straight
// from memory after one stat through WEB_ROOT proves the cached version is the file there now (the
// fast path, in front of express); `find` + `sendFound` (used by the express app) resolve the root,
// do the full lookup, fill the cache, or stream large files.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import type { Logger } from '@multipod/service';
import { BODY_BYTES, type CountedResponse } from './body-bytes.ts';
import { cacheControl } from './cache-policy.ts';
import { compressible, contentType } from './content-type.ts';
import { FileCache, sameVersion, stillCurrent, versionOf } from './file-cache.ts';
import { type Found, type Lookup, lookup } from './lookup.ts';
import { resolveRoot } from './root.ts';
import { type SafePath, safePath } from './safe-path.ts';
import {
  acceptedEncodings,
  chooseVariant,
  type Encoding,
  makeVariant,
  type Resource,
  sendVariant,
  type Variant,
} from './send-file.ts';

export interface StaticOptions {
  root: string;
  index: string;
  spaFallback: boolean;
  /** File at the root served with status 404, or null. */
  notFoundPage: string | null;
  allowDotfiles: boolean;
  precompressed: boolean;
  maxAgeMs: number;
  immutableMaxAgeMs: number;
  securityHeaders: boolean;
  contentSecurityPolicy: string | undefined;
  cacheSize: number;
  cacheMaxFile: number;
  maxPath: number;
}

/** What a request resolved to before any file is touched. */
export type Target = { path: Extract<SafePath, { ok: true }>; root: string; key: string };

export type StaticFiles = ReturnType<typeof createStaticFiles>;

const SIBLINGS_RECHECK_MS = 1000;

/** The lookup found exactly the files this cached resource holds (same versions, same siblings). */
function sameFiles(r: Resource, found: Extract<Lookup, { kind: 'file' }>): boolean {
  const same = (v: Variant | undefined, f: Found | undefined) =>
    v === undefined ? f === undefined : f !== undefined && sameVersion(v.version, f.stat);
  return same(r.identity, found.identity) && same(r.br, found.br) && same(r.gzip, found.gzip);
}

export function createStaticFiles(opts: StaticOptions, log?: Logger) {
  const cache = new FileCache<Resource>(opts.cacheSize);
  // Cached versions are checked through WEB_ROOT as configured (`/srv/www/current/a.css`): the stat
  // follows `current` as it is at that instant, so a swap is seen by the very next request.
  const logicalRoot = resolve(opts.root);
  const security: Record<string, string> = {};
  if (opts.securityHeaders) {
    security['x-content-type-options'] = 'nosniff';
    security['x-frame-options'] = 'SAMEORIGIN';
    security['referrer-policy'] = 'strict-origin-when-cross-origin';
  }
  if (opts.contentSecurityPolicy) security['content-security-policy'] = opts.contentSecurityPolicy;
  const pathOpts = { maxPath: opts.maxPath, allowDotfiles: opts.allowDotfiles };
  const lookupOpts = {
    index: opts.index,
    siblings: (rel: string) => opts.precompressed && compressible(contentType(rel)),
  };

  /** Cache key of a URL path: `/about` (a redirect) and `/about/` (its index) differ. */
  const keyOf = (path: Extract<SafePath, { ok: true }>) =>
    path.dir && path.rel !== '/' ? `${path.rel}/` : path.rel;

  /** The request's path and real root, a 4xx for a bad path, or null when the root does not resolve. */
  function target(req: IncomingMessage): Target | Extract<SafePath, { ok: false }> | null {
    const path = safePath(req.url ?? '/', pathOpts);
    if (!path.ok) return path;
    const root = resolveRoot(opts.root);
    if (root === null) return null;
    return { path, root, key: keyOf(path) };
  }

  /** The root as a target (path `/`), for pages served instead of the URL (the 404 page); null if unresolved. */
  function rootTarget(): Target | null {
    const root = resolveRoot(opts.root);
    return root === null ? null : { path: { ok: true, rel: '/', dir: true, query: '' }, root, key: '/' };
  }

  /** A cached resource whose files are all still the versions that were read; else undefined. */
  function fresh(key: string, acceptEncoding: string | undefined): Variant | undefined {
    const r = cache.get(key);
    if (!r) return undefined;
    // The stat below proves the bytes; once a second the slow path also re-checks which .br/.gz
    // siblings exist (a sibling added next to an unchanged file), reusing the bytes if unchanged.
    if (performance.now() - r.checkedAt > SIBLINGS_RECHECK_MS) return undefined;
    const v = chooseVariant(r, acceptEncoding);
    if (stillCurrent(r.identity.version) && (v === r.identity || stillCurrent(v.version))) return v;
    cache.delete(key);
    return undefined;
  }

  /** Fast path: answers from memory and returns true, or returns false having written nothing. */
  function serveCached(req: IncomingMessage, res: ServerResponse): boolean {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !cache.enabled) return false;
    const path = safePath(req.url ?? '/', pathOpts);
    if (!path.ok) return false;
    const v = fresh(keyOf(path), req.headers['accept-encoding']);
    if (!v) return false;
    sendVariant(req, res, v);
    return true;
  }

  function baseHeaders(rel: string, vary: boolean): Record<string, string> {
    const type = contentType(rel);
    const h: Record<string, string> = {
      'content-type': type,
      'cache-control': cacheControl(rel, type, opts),
      ...security,
    };
    if (vary) h.vary = 'Accept-Encoding';
    return h;
  }

  /** Reads a found file into memory, or returns null if it changed while being read. */
  function readWhole(f: Found): Buffer | null {
    const fd = openSync(f.realPath, 'r');
    try {
      const before = fstatSync(fd);
      if (!sameVersion(versionOf(f.path, f.stat), before)) return null;
      const buf = Buffer.allocUnsafe(before.size);
      let off = 0;
      while (off < buf.length) {
        const n = readSync(fd, buf, off, buf.length - off, off);
        if (n === 0) return null;
        off += n;
      }
      return sameVersion(versionOf(f.path, f.stat), fstatSync(fd)) ? buf : null;
    } finally {
      closeSync(fd);
    }
  }

  /** Builds an in-memory resource from a lookup, or null when too big or changing under us. */
  function load(
    found: Extract<Lookup, { kind: 'file' }>,
    extra: Record<string, string> = {},
  ): Resource | null {
    const files = [found.identity, found.br, found.gzip];
    const total = files.reduce((n, f) => n + (f ? f.stat.size : 0), 0);
    if (!cache.enabled || files.some((f) => f && f.stat.size > opts.cacheMaxFile)) return null;
    const base = { ...baseHeaders(found.rel, Boolean(found.br || found.gzip)), ...extra };
    const variant = (f: Found | undefined, enc: '' | 'br' | 'gzip') => {
      if (!f) return undefined;
      const body = readWhole(f);
      return body ? makeVariant(enc, versionOf(logicalRoot + f.rel, f.stat), base, body) : null;
    };
    const identity = variant(found.identity, '');
    const br = variant(found.br, 'br');
    const gzip = variant(found.gzip, 'gzip');
    if (!identity || br === null || gzip === null) return null;
    return {
      identity,
      ...(br ? { br } : {}),
      ...(gzip ? { gzip } : {}),
      bytes: total + 1024,
      checkedAt: performance.now(),
    };
  }

  /** Sends a found file: from memory (caching it under `key`), or streamed from disk when large. */
  function sendFound(
    req: IncomingMessage,
    res: ServerResponse,
    found: Extract<Lookup, { kind: 'file' }>,
    key: string | null,
    status = 200,
  ): void {
    const cached = key === null ? undefined : cache.get(key);
    let r: Resource | null;
    if (cached && sameFiles(cached, found)) {
      r = cached;
      r.checkedAt = performance.now();
    } else {
      r = load(found);
      if (r && key !== null) cache.set(key, r);
    }
    if (r) {
      sendVariant(req, res, chooseVariant(r, req.headers['accept-encoding']), { status });
      return;
    }
    const ok = acceptedEncodings(req.headers['accept-encoding']);
    const [f, enc]: [Found, Encoding] =
      found.br && ok.br
        ? [found.br, 'br']
        : found.gzip && ok.gzip
          ? [found.gzip, 'gzip']
          : [found.identity, ''];
    // Headers come from the descriptor's own stat, so they describe exactly the bytes streamed.
    const fd = openSync(f.realPath, 'r');
    let v: Variant;
    try {
      v = makeVariant(
        enc,
        versionOf(logicalRoot + f.rel, fstatSync(fd)),
        baseHeaders(found.rel, Boolean(found.br || found.gzip)),
      );
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    sendVariant(req, res, v, {
      status,
      fd,
      onShort: ({ at, end, err }) =>
        log?.error(
          { err, url: req.url, file: f.rel, at, end },
          err
            ? 'reading a file failed while it was sent; connection closed'
            : 'file ended before its Content-Length (changed while sent); connection closed',
        ),
    });
  }

  /** Looks a target up on disk (the slow path). */
  function find(t: Target, rel = t.path.rel, dir = t.path.dir): Promise<Lookup> {
    return lookup(t.root, rel, dir, lookupOpts);
  }

  /** A short plain-text answer (errors, redirects) with the security headers. */
  function sendText(
    res: ServerResponse,
    status: number,
    body: string,
    extra: Record<string, string> = {},
  ): void {
    (res as CountedResponse)[BODY_BYTES] = res.req?.method === 'HEAD' ? 0 : Buffer.byteLength(body);
    res.writeHead(status, {
      ...security,
      'content-type': 'text/plain; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'no-store',
      ...extra,
    });
    res.end(body);
  }

  return {
    cache,
    serveCached,
    target,
    rootTarget,
    fresh,
    find,
    sendFound,
    sendText,
    sendVariant,
    options: opts,
  };
}
