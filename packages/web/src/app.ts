// The express 5 application: the full request path. Method guard → static files (lookup, redirect,
// cache fill, streaming) → not found (SPA fallback, custom 404 page) → error handler.

import type { Logger } from '@multipod/service';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import { extensionOf } from './content-type.ts';
import type { StaticFiles, Target } from './static-files.ts';

/** Why the static middleware passed a request on to the not-found handler. */
const MISS = Symbol('miss');
type Missed = { [MISS]?: { target: Target; status: 403 | 404; spa: boolean } };

export function createApp(files: StaticFiles, log: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false);

  const methods: RequestHandler = (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    files.sendText(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
  };

  const serveFiles: RequestHandler = async (req, res, next) => {
    const t = files.target(req);
    if (t === null) return files.sendText(res, 503, 'no content yet: the root does not resolve\n');
    if ('status' in t) {
      // A refused dotfile looks like any missing file (custom 404 page too), never like a SPA route.
      const root = t.status === 404 ? files.rootTarget() : null;
      if (root === null)
        return files.sendText(res, t.status, `${t.status === 404 ? 'not found' : t.reason}\n`);
      (req as Missed)[MISS] = { target: root, status: 404, spa: false };
      return next();
    }
    const hit = files.fresh(t.key, req.headers['accept-encoding']);
    if (hit) return files.sendVariant(req, res, hit);
    const found = await files.find(t);
    if (found.kind === 'redirect') {
      const location = found.rel.split('/').map(encodeURIComponent).join('/') + t.path.query;
      return files.sendText(res, 301, `moved to ${location}\n`, { location });
    }
    if (found.kind === 'missing') {
      (req as Missed)[MISS] = { target: t, status: found.status, spa: true };
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

  const notFound: RequestHandler = async (req, res) => {
    const miss = (req as Missed)[MISS];
    if (!miss) return files.sendText(res, 404, 'not found\n');
    const { target, status, spa } = miss;
    const opts = files.options;
    if (spa && status === 404 && opts.spaFallback && extensionOf(target.path.rel) === '') {
      const index = await files.find(target, '/', true);
      if (index.kind === 'file') return files.sendFound(req, res, index, '/');
    }
    if (opts.notFoundPage) {
      const page = await files.find(target, `/${opts.notFoundPage}`, false);
      if (page.kind === 'file') return files.sendFound(req, res, page, `/${opts.notFoundPage}`, status);
    }
    files.sendText(res, status, status === 403 ? 'forbidden\n' : 'not found\n');
  };

  const errors: ErrorRequestHandler = (err: Error, req, res, _next) => {
    log.error({ err, url: req.url }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    files.sendText(res, 500, 'internal error\n');
  };

  app.use(methods, serveFiles, notFound, errors);
  return app;
}
