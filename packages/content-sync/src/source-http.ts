// HTTP requests to a remote source (a git server), on node:http/https: a deadline over the whole
// exchange (SYNC_HTTP_TIMEOUT), cancellation, a bound on the response body (SYNC_MAX_BYTES), and
// redirects followed the careful way: never from https down to http, and request headers the
// caller marks as credentials are not carried to another origin.
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** Why a source could not be read, for `content_sync_errors_total{reason}`. */
export type FailureReason = 'unreachable' | 'auth' | 'not_found' | 'refused' | 'other';

/** A source that could not be read: the message says which and why; the live snapshot stays. */
export class SourceFailure extends Error {
  override name = 'SourceFailure';
  readonly reason: FailureReason;
  constructor(message: string, reason: FailureReason) {
    super(message);
    this.reason = reason;
  }
}

export interface SourceRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** Header names (lower case) that carry credentials: dropped when a redirect leaves the origin. */
  secret?: ReadonlySet<string>;
  body?: Buffer;
  signal?: AbortSignal;
  timeoutMs: number;
  /** The response body is cut (with a SourceFailure) past this many bytes. */
  maxBytes: number;
  /** Certificates trusted for https (the system's plus SYNC_CA_FILE's); undefined: the system's. */
  ca?: string[] | undefined;
}

export interface SourceResponse {
  /** The URL that answered (after redirects). */
  url: string;
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  body: AsyncIterable<Buffer>;
  /** Drops the body unread (a 304, an error status), and its connection with it. */
  cancel(): void;
}

const MAX_REDIRECTS = 5;

/** One request, redirects followed; the body is read by the caller, under the same deadline. */
export async function sourceRequest(url: string, req: SourceRequest): Promise<SourceResponse> {
  const deadline = AbortSignal.timeout(req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, deadline]) : deadline;
  let method = req.method ?? 'GET';
  let body = req.body;
  let headers = { ...req.headers };
  let at = url;
  for (let hop = 0; ; hop++) {
    const res = await once(at, method, headers, body, signal, req, url);
    const location = res.headers.location;
    if (![301, 302, 303, 307, 308].includes(res.statusCode ?? 0) || !location)
      return {
        url: at,
        status: res.statusCode ?? 0,
        statusText: res.statusMessage ?? '',
        headers: res.headers,
        body: limited(res, req.maxBytes, url, signal, deadline, req.timeoutMs),
        cancel: () => res.destroy(),
      };
    res.resume();
    if (hop >= MAX_REDIRECTS)
      throw new SourceFailure(`${url}: more than ${MAX_REDIRECTS} redirects`, 'unreachable');
    const next = new URL(location, at);
    const from = new URL(at);
    if (from.protocol === 'https:' && next.protocol !== 'https:')
      throw new SourceFailure(`${url}: refused a redirect from https to ${next.protocol}`, 'refused');
    if (next.origin !== from.origin)
      headers = Object.fromEntries(
        Object.entries(headers).filter(([k]) => !req.secret?.has(k.toLowerCase())),
      );
    // 301/302/303 turn a POST into a GET (as browsers and curl do); 307/308 repeat it.
    if (method === 'POST' && ![307, 308].includes(res.statusCode ?? 0)) {
      method = 'GET';
      body = undefined;
    }
    at = next.href;
  }
}

/**
 * One exchange. A kept-alive connection the server closed just as it was reused (its idle timeout,
 * a load balancer's) fails before any answer: that request is sent once more, on a new connection,
 * as Node's documentation advises (every request here only reads).
 */
function once(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  signal: AbortSignal,
  req: SourceRequest,
  shown: string,
  retried = false,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new SourceFailure(`${shown}: not a URL`, 'refused'));
      return;
    }
    const send = parsed.protocol === 'https:' ? httpsRequest : httpRequest;
    const r = send(
      parsed,
      {
        method,
        headers: body ? { ...headers, 'content-length': String(body.length) } : headers,
        signal,
        ...(req.ca && parsed.protocol === 'https:' ? { ca: req.ca } : {}),
      },
      resolve,
    );
    r.on('error', (err: NodeJS.ErrnoException) => {
      if (req.signal?.aborted) reject(req.signal.reason);
      else if (
        !signal.aborted &&
        !retried &&
        r.reusedSocket &&
        (err.code === 'ECONNRESET' || err.code === 'EPIPE')
      )
        resolve(once(url, method, headers, body, signal, req, shown, true));
      else if (signal.aborted)
        reject(
          new SourceFailure(
            `${shown}: no answer within ${req.timeoutMs}ms (--http-timeout / SYNC_HTTP_TIMEOUT)`,
            'unreachable',
          ),
        );
      else if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT/.test(err.code ?? ''))
        reject(
          new SourceFailure(
            `${shown}: its TLS certificate is not trusted: ${describe(err)} (a private CA goes in --ca-file / SYNC_CA_FILE)`,
            'refused',
          ),
        );
      else reject(new SourceFailure(`cannot reach ${shown}: ${describe(err)}`, 'unreachable'));
    });
    r.end(body);
  });
}

/** The response body, cut past `max` bytes; a deadline or cancel mid-body becomes a clear error. */
async function* limited(
  res: IncomingMessage,
  max: number,
  shown: string,
  signal: AbortSignal,
  deadline: AbortSignal,
  timeoutMs: number,
): AsyncIterable<Buffer> {
  let got = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      got += chunk.length;
      if (got > max)
        throw new SourceFailure(
          `${shown}: the answer is more than ${max} bytes (--max-bytes / SYNC_MAX_BYTES)`,
          'refused',
        );
      yield chunk;
    }
  } catch (err) {
    if (err instanceof SourceFailure) throw err;
    if (signal.aborted && deadline.aborted)
      throw new SourceFailure(
        `${shown}: the answer took longer than ${timeoutMs}ms (--http-timeout / SYNC_HTTP_TIMEOUT)`,
        'unreachable',
      );
    if (signal.aborted) throw signal.reason;
    throw new SourceFailure(`${shown}: the answer broke off: ${describe(err as Error)}`, 'unreachable');
  } finally {
    res.destroy();
  }
}

function describe(err: NodeJS.ErrnoException): string {
  return err.code && !err.message.includes(err.code) ? `${err.message} (${err.code})` : err.message;
}
