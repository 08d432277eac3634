// The express 5 application: the slow path, for what the raw fast path in server.ts did not answer
// (a cache miss, any other method, a redirect, a missing file). Plain middleware in order, each
// step handing on what it learnt in res.locals:
//   methods (405) → lookup (the path in the root resolved for this request, then the cache or the
//   disk) → send (the file, or the redirect to its directory) → SPA fallback → 404 page → 404 text
//   → error handler (500).
import type { Logger } from '@multipod/service';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import { extensionOf } from './content-type.ts';
import type { Lookup } from './lookup.ts';
import type { Variant } from './send-file.ts';
import type { StaticFiles, Target } from './static-files.ts';

/** What one step hands on to the next (express's per-request state). */
interface Locals {
  /** The request's path, in the root resolved for this request. */
  target?: Target;
  /** A cached version of it, still the file on disk. */
  hit?: Variant;
  /** What the disk holds for it. */
  found?: Lookup;
  /** Nothing was sent for the URL: what the not-found steps answer, from which root. */
  missing?: { target: Target; status: 403 | 404; spa: boolean };
}

type Step = RequestHandler<Record<string, string>, unknown, unknown, unknown, Locals>;
type ErrorStep = ErrorRequestHandler<Record<string, string>, unknown, unknown, unknown, Locals>;

export function createApp(files: StaticFiles, log: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false);
  const opts = files.options;

  const methods: Step = (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    files.sendText(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
  };

  const lookup: Step = async (req, res, next) => {
    const t = files.target(req);
    if (t === null) return files.sendText(res, 503, 'no content yet: the root does not resolve\n');
    if ('status' in t) {
      // A refused dotfile looks like any missing file (custom 404 page too), never like a SPA route.
      const root = t.status === 404 ? files.rootTarget() : null;
      if (root === null)
        return files.sendText(res, t.status, `${t.status === 404 ? 'not found' : t.reason}\n`);
      res.locals.missing = { target: root, status: 404, spa: false };
      return next();
    }
    res.locals.target = t;
    res.locals.hit = files.fresh(t.key, req.headers['accept-encoding']);
    if (!res.locals.hit) res.locals.found = await files.find(t);
    next();
  };

  const send: Step = (req, res, next) => {
    const { target: t, hit, found } = res.locals;
    if (hit) return files.sendVariant(req, res, hit);
    if (!t || !found) return next();
    if (found.kind === 'redirect') {
      const location = found.rel.split('/').map(encodeURIComponent).join('/') + t.path.query;
      return files.sendText(res, 301, `moved to ${location}\n`, { location });
    }
    if (found.kind === 'missing') {
      res.locals.missing = { target: t, status: found.status, spa: true };
      return next();
    }
    try {
      files.sendFound(req, res, found, t.key);
    } catch (err) {
      // Lost a race with the disk between lookup and open (deleted, or made unreadable).
      const code = (err as NodeJS.ErrnoException).code;
      if (res.headersSent || (code !== 'ENOENT' && code !== 'EACCES' && code !== 'EPERM')) throw err;
      files.sendText(res, code === 'ENOENT' ? 404 : 403, code === 'ENOENT' ? 'not found\n' : 'forbidden\n');
    }
  };

  const spaFallback: Step = async (req, res, next) => {
    const m = res.locals.missing;
    if (!m?.spa || m.status !== 404 || !opts.spaFallback || extensionOf(m.target.path.rel) !== '')
      return next();
    const index = await files.find(m.target, '/', true);
    if (index.kind !== 'file') return next();
    files.sendFound(req, res, index, '/');
  };

  const notFoundPage: Step = async (req, res, next) => {
    const m = res.locals.missing;
    if (!m || !opts.notFoundPage) return next();
    const page = await files.find(m.target, `/${opts.notFoundPage}`, false);
    if (page.kind !== 'file') return next();
    files.sendFound(req, res, page, `/${opts.notFoundPage}`, m.status);
  };

  const notFound: Step = (_req, res) => {
    const status = res.locals.missing?.status ?? 404;
    files.sendText(res, status, status === 403 ? 'forbidden\n' : 'not found\n');
  };

  const errors: ErrorStep = (err: Error, req, res, _next) => {
    log.error({ err, url: req.url }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    files.sendText(res, 500, 'internal error\n');
  };

  app.use(methods, lookup, send, spaFallback, notFoundPage, notFound, errors);
  return app;
}
