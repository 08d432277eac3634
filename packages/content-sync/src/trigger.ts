// POST /sync on the admin port: a push notification (a git host's webhook, a CI step) wakes a sync
// at once instead of waiting for SYNC_INTERVAL. Several calls while a sync runs become one more
// sync after it. With SYNC_TRIGGER_TOKEN_FILE the call must carry that token
// (`Authorization: Bearer <token>`); the file is read on every call, so a rotated Secret applies at
// once, and the comparison takes the same time whatever the guess.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger, Route } from '@multipod/service';

export interface TriggerOptions {
  /** Starts a sync soon (the scheduler's wake). */
  wake(): void;
  /** SYNC_TRIGGER_TOKEN_FILE; undefined: no token asked for. */
  tokenFile: string | undefined;
  log: Logger;
}

/** The token in a Secret's file: surrounding whitespace (a trailing newline) is not part of it. */
export function readToken(file: string): string {
  const token = readFileSync(file, 'utf8').trim();
  if (!token) throw new Error(`${file} is empty`);
  return token;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Equal strings, compared in constant time (hashes first, so the lengths leak nothing either). */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

export function triggerRoute(opts: TriggerOptions): Route {
  return (req, res) => {
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== '/sync') return false;
    req.resume();
    const text = (status: number, body: string, headers: Record<string, string> = {}) =>
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(`${body}\n`);
    if (req.method !== 'POST') {
      text(405, 'use POST /sync', { allow: 'POST' });
      return true;
    }
    if (opts.tokenFile !== undefined) {
      let token: string;
      try {
        token = readToken(opts.tokenFile);
      } catch (err) {
        opts.log.error(
          { err: (err as Error).message },
          'cannot read --trigger-token-file / SYNC_TRIGGER_TOKEN_FILE; POST /sync refused',
        );
        text(503, 'the trigger token cannot be read; see the log');
        return true;
      }
      const given = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
      if (given === undefined || !sameSecret(given, token)) {
        text(401, 'POST /sync needs Authorization: Bearer <the token of SYNC_TRIGGER_TOKEN_FILE>', {
          'www-authenticate': 'Bearer realm="content-sync"',
        });
        return true;
      }
    }
    opts.wake();
    text(202, 'sync started');
    return true;
  };
}
