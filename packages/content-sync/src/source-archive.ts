// An http(s) .tar.gz source: polled with If-None-Match / If-Modified-Since (an unchanged source
// costs one 304), downloaded with a size limit, checked, then unpacked into a private staging
// directory that the snapshot builder hard-links from.
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArchiveError, type ArchiveLimits, checkArchive } from './archive-check.ts';
import type { Credentials } from './credentials.ts';
import { SourceFailure, sourceRequest } from './source-http.ts';
import { unpackArchive } from './unpack.ts';

export type Fetched =
  | { readonly unchanged: true }
  | {
      readonly unchanged: false;
      /** Unpacked tree, to be removed with `discard()` once the snapshot is built. */
      readonly dir: string;
      readonly sha256: string;
      /** Call after the snapshot went live: later polls send these validators. */
      commit(): void;
      discard(): void;
    };

export interface ArchiveSourceOptions extends ArchiveLimits {
  url: string;
  /** Where downloads and staging trees live (on the target's file system, for hard links). */
  workDir: string;
  timeoutMs: number;
  /** Credentials, headers and CA (files read again at every poll). */
  credentials?: Credentials | undefined;
}

export class ArchiveSource {
  readonly #opts: ArchiveSourceOptions;
  #etag: string | undefined;
  #lastModified: string | undefined;
  #sha256: string | undefined;
  #n = 0;

  constructor(opts: ArchiveSourceOptions) {
    this.#opts = opts;
  }

  /** Removes staging left behind by an earlier process. */
  clean(): void {
    rmSync(this.#opts.workDir, { recursive: true, force: true });
  }

  async fetch(signal?: AbortSignal): Promise<Fetched> {
    const { url, workDir, timeoutMs, maxBytes } = this.#opts;
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (this.#etag) headers['if-none-match'] = this.#etag;
    if (this.#lastModified) headers['if-modified-since'] = this.#lastModified;
    const secret = this.#opts.credentials?.headers() ?? {};
    // The deadline covers the download (sourceRequest's); the size bound is checked below, with
    // its own message, so the request's is off.
    const res = await sourceRequest(url, {
      headers: { ...secret, ...headers },
      secret: new Set(Object.keys(secret)),
      ...(signal ? { signal } : {}),
      timeoutMs,
      maxBytes: Number.POSITIVE_INFINITY,
      ca: this.#opts.credentials?.ca(),
    });
    if (res.status === 304) {
      res.cancel();
      // A 304 answers a conditional request only (RFC 9110 15.4.5): to one without a validator it
      // says nothing about any content, and taking it for "unchanged" would publish nothing, ever.
      if (!headers['if-none-match'] && !headers['if-modified-since'])
        throw new ArchiveError(
          `GET ${url} answered 304 Not Modified to a request without If-None-Match or If-Modified-Since; the server is broken (no content to publish)`,
        );
      return { unchanged: true };
    }
    if (res.status !== 200) {
      res.cancel();
      throw statusFailure(url, res.status, res.statusText, this.#opts.credentials?.sends);
    }
    const declared = Number(res.headers['content-length'] ?? Number.NaN);
    if (declared > maxBytes) {
      res.cancel();
      throw new ArchiveError(
        `archive at ${url} is ${declared} bytes, more than --max-bytes / SYNC_MAX_BYTES`,
      );
    }
    const n = ++this.#n;
    mkdirSync(workDir, { recursive: true });
    const file = join(workDir, `download-${n}.tar.gz`);
    const dir = join(workDir, `unpacked-${n}`);
    const discard = () => {
      rmSync(file, { force: true });
      // Retried: node-tar's last calls in flight when an unpack is aborted may still add an entry.
      rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 10 });
    };
    try {
      const hash = createHash('sha256');
      let got = 0;
      const limit = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          got += chunk.length;
          if (got > maxBytes)
            return cb(
              new ArchiveError(
                `archive at ${url} is more than ${maxBytes} bytes (--max-bytes / SYNC_MAX_BYTES)`,
              ),
            );
          hash.update(chunk);
          cb(null, chunk);
        },
      });
      await pipeline(Readable.from(res.body), limit, createWriteStream(file));
      const sha256 = hash.digest('hex');
      const etag = res.headers.etag;
      const lastModified = res.headers['last-modified'];
      const commit = () => {
        this.#etag = etag;
        this.#lastModified = lastModified;
        this.#sha256 = sha256;
      };
      if (sha256 === this.#sha256) {
        // Same bytes under new validators (a server without ETags): nothing to publish.
        discard();
        commit();
        return { unchanged: true };
      }
      await checkArchive(file, this.#opts, signal);
      mkdirSync(dir);
      await unpackArchive(file, dir, signal);
      rmSync(file, { force: true });
      return { unchanged: false, dir, sha256, commit, discard };
    } catch (err) {
      discard();
      if (signal?.aborted) throw signal.reason;
      if (err instanceof ArchiveError || err instanceof SourceFailure) throw err;
      const e = err as NodeJS.ErrnoException;
      if (e.name === 'AbortError' || e.name === 'TimeoutError')
        throw new SourceFailure(
          `download of ${url} took longer than --http-timeout / SYNC_HTTP_TIMEOUT`,
          'unreachable',
        );
      throw new ArchiveError(`cannot unpack ${url}: ${e.message}${e.code ? ` (${e.code})` : ''}`);
    }
  }
}

/** An answer other than 200 or 304: what it means, and which credentials were sent, if any. */
function statusFailure(url: string, s: number, text: string, sent: string | undefined): SourceFailure {
  const auth = s === 401 || s === 403;
  const hint = !auth
    ? ''
    : sent
      ? ` (the credentials of ${sent} were refused)`
      : ' (it asks for credentials: --username / SYNC_USERNAME with --password-file / SYNC_PASSWORD_FILE, --bearer-token-file / SYNC_BEARER_TOKEN_FILE, or --headers-file / SYNC_HEADERS_FILE)';
  return new SourceFailure(
    `GET ${url} answered ${s} ${text}${hint}; keeping the current snapshot`,
    auth ? 'auth' : s === 404 || s === 410 ? 'not_found' : s >= 500 ? 'unreachable' : 'other',
  );
}
