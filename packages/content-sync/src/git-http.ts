// isomorphic-git's HTTP client, over source-http.ts (deadline, cancel, size bound, careful
// redirects). Two things isomorphic-git's own client does not do:
// - it asks for a thin pack. isomorphic-git leaves `thin-pack` out (canonical git cannot read the
//   thin packs it would store; isomorphic-git itself resolves their bases from the store), and
//   without it git's upload-pack answers a shallow fetch with the whole tree again: 640 KB for a
//   one-file change to a 10,000-file repository, against 1 KB with it;
// - a redirect of the first request moves the repository for the requests that follow (as git's
//   http.followRedirects=initial does), so a renamed repository keeps working.
import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';
import { sourceRequest } from './source-http.ts';

export interface GitHttpOptions {
  timeoutMs: number;
  maxBytes: number;
  /** Cancels the request in flight (shutdown). */
  signal: () => AbortSignal | undefined;
  /** Headers sent to the repository's origin only (credentials), read for each request. */
  credentials?: () => Record<string, string>;
  /** Certificates trusted for https, read for each request; undefined: the system's. */
  ca?: () => string[] | undefined;
  /** Called once when the repository answered from another URL. */
  onMoved?: (from: string, to: string) => void;
}

const INFO_REFS = /\/info\/refs\?service=git-upload-pack$/;

export function gitHttp(opts: GitHttpOptions): HttpClient {
  const moved = new Map<string, string>();
  return {
    async request(req: GitHttpRequest): Promise<GitHttpResponse> {
      let url = req.url;
      for (const [from, to] of moved) if (url.startsWith(from)) url = to + url.slice(from.length);
      let body = req.body ? await collect(req.body) : undefined;
      if (body) body = withThinPack(body);
      const secret = opts.credentials?.() ?? {};
      const res = await sourceRequest(url, {
        method: req.method === 'POST' ? 'POST' : 'GET',
        headers: merge(secret, req.headers ?? {}),
        ca: opts.ca?.(),
        secret: new Set(Object.keys(secret).map((k) => k.toLowerCase())),
        ...(body ? { body } : {}),
        signal: opts.signal(),
        timeoutMs: opts.timeoutMs,
        maxBytes: opts.maxBytes,
      });
      if (res.url !== url && INFO_REFS.test(url) && INFO_REFS.test(res.url)) {
        const from = url.replace(INFO_REFS, '');
        const to = res.url.replace(INFO_REFS, '');
        moved.set(req.url.replace(INFO_REFS, ''), to);
        opts.onMoved?.(from, to);
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers))
        if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      return {
        url: res.url,
        method: req.method ?? 'GET',
        statusCode: res.status,
        statusMessage: res.statusText,
        headers,
        body: res.body[Symbol.asyncIterator]() as AsyncIterableIterator<Uint8Array>,
      };
    },
  };
}

/** The git protocol's own headers win over a headers file's; the credentials' Authorization over all. */
function merge(secret: Record<string, string>, own: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { ...secret };
  for (const [k, v] of Object.entries(own)) out[k.toLowerCase()] = v;
  if (secret.authorization) out.authorization = secret.authorization;
  return out;
}

async function collect(body: AsyncIterableIterator<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of body) parts.push(part);
  return Buffer.concat(parts);
}

/**
 * Adds `thin-pack` to the capabilities of an upload-pack request (they follow the first `want`
 * line's object id, in its pkt-line: four hex digits of length, then the line).
 */
export function withThinPack(body: Buffer): Buffer {
  const len = Number.parseInt(body.subarray(0, 4).toString('latin1'), 16);
  if (!(len > 4) || body.subarray(4, 9).toString('latin1') !== 'want ') return body;
  const line = body.subarray(4, len).toString('latin1');
  const caps = line.slice(5 + 40);
  if (!caps.startsWith(' ') || / thin-pack( |\n|$)/.test(caps)) return body;
  const next = `${line.slice(0, 45)} thin-pack${caps}`;
  return Buffer.concat([
    Buffer.from((next.length + 4).toString(16).padStart(4, '0') + next, 'latin1'),
    body.subarray(len),
  ]);
}
