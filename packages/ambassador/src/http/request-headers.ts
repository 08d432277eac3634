// The headers the upstream gets, built in one pass over the client's raw headers: hop-by-hop
// headers dropped (RFC 9110 §7.6.1, plus any the Connection header names), the forwarding family
// (Forwarded, X-Forwarded-*, X-Real-IP) replaced unless trusted, and requests a proxy must refuse
// caught here: two Host headers (RFC 9112 §3.2: 400), a transfer coding other than chunked (501).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const REQUEST_ID = /^[\x21-\x7e]{1,200}$/;

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // Node has already answered "100 Continue"; the upstream gets the body at once.
  'expect',
]);

export interface ForwardContext {
  /** Keep incoming forwarding headers (append to them) instead of replacing them. */
  readonly trust: boolean;
  readonly proto: 'http' | 'https';
  /** Host header to send instead of the client's (pool `hostHeader: upstream`). */
  readonly hostOverride?: string;
  /** Generate an X-Request-Id when the request has none (a valid one is kept). */
  readonly requestId: boolean;
}

export type UpstreamHeaders =
  | {
      readonly ok: true;
      /** Flat [name, value, …] as undici takes them. */
      readonly headers: string[];
      readonly host: string | undefined;
      readonly hasBody: boolean;
      /** The request's X-Request-Id, as received or generated ('' when there is none). */
      readonly requestId: string;
      /** The client's address (IPv4-mapped IPv6 unwrapped). */
      readonly clientIp: string;
      /** The client sent `TE: trailers` (gRPC does; passed on to HTTP/2 upstreams only). */
      readonly teTrailers: boolean;
    }
  | { readonly ok: false; readonly status: 400 | 501; readonly reason: string };

/** True for the headers a client cannot set when forwarding headers are not trusted. */
function isForwarding(name: string): boolean {
  return name === 'forwarded' || name === 'x-real-ip' || name.startsWith('x-forwarded-');
}

export function upstreamHeaders(req: IncomingMessage, ctx: ForwardContext, host?: string): UpstreamHeaders {
  const raw = req.rawHeaders;
  const out: string[] = [];
  let hosts = 0;
  let clientHost: string | undefined;
  let connection: string | undefined;
  let hasBody = false;
  let xff: string | undefined;
  let forwarded: string | undefined;
  const kept: Record<string, string> = {};
  let requestId = '';
  let authority: string | undefined;
  let teTrailers = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (name.charCodeAt(0) === 58 /* ':' */) {
      // HTTP/2 pseudo-headers: the authority is the Host; the rest are the request line.
      if (name === ':authority') authority = value;
      continue;
    }
    if (name === 'te') {
      // The one TE an HTTP/2 client may send, and gRPC needs upstream: "trailers".
      if (value.trim().toLowerCase() === 'trailers') teTrailers = true;
      continue;
    }
    if (name === 'x-request-id') {
      // One, short and printable, or it is replaced: it ends up in logs and other systems' headers.
      if (requestId !== '' || !REQUEST_ID.test(value)) continue;
      requestId = value;
    } else if (name === 'host') {
      hosts++;
      clientHost = value;
      continue;
    }
    if (name === 'content-length') {
      if (value !== '0') hasBody = true;
    } else if (name === 'transfer-encoding') {
      if (value.trim().toLowerCase() !== 'chunked')
        return { ok: false, status: 501, reason: `transfer coding "${value}" is not supported` };
      hasBody = true;
      continue;
    } else if (name === 'connection') {
      connection = connection === undefined ? value : `${connection},${value}`;
      continue;
    }
    if (HOP_BY_HOP.has(name)) continue;
    if (isForwarding(name)) {
      if (!ctx.trust) continue;
      if (name === 'x-forwarded-for') {
        xff = xff === undefined ? value : `${xff}, ${value}`;
        continue;
      }
      if (name === 'forwarded') {
        forwarded = forwarded === undefined ? value : `${forwarded}, ${value}`;
        continue;
      }
      kept[name] = value;
    }
    out.push(raw[i]!, value);
  }
  if (hosts > 1) return { ok: false, status: 400, reason: 'more than one Host header' };
  if (authority !== undefined) {
    if (clientHost !== undefined && clientHost.toLowerCase() !== authority.toLowerCase())
      return { ok: false, status: 400, reason: 'Host and :authority disagree' };
    clientHost = authority;
  }
  // Headers the Connection header names are hop-by-hop too (RFC 9110 §7.6.1).
  if (connection !== undefined) {
    const named = new Set(
      connection
        .toLowerCase()
        .split(',')
        .map((s) => s.trim()),
    );
    named.delete('close');
    named.delete('keep-alive');
    if (named.size > 0)
      for (let i = out.length - 2; i >= 0; i -= 2)
        if (named.has(out[i]!.toLowerCase()) && !isForwarding(out[i]!.toLowerCase())) out.splice(i, 2);
  }

  const effectiveHost = host ?? clientHost;
  const upstreamHost = ctx.hostOverride ?? effectiveHost;
  if (upstreamHost !== undefined) out.push('host', upstreamHost);

  if (requestId === '' && ctx.requestId) {
    requestId = randomUUID();
    out.push('x-request-id', requestId);
  }

  const socket = req.socket;
  const raddr = socket.remoteAddress ?? 'unknown';
  const addr = raddr.startsWith('::ffff:') ? raddr.slice(7) : raddr;
  out.push('x-forwarded-for', xff === undefined ? addr : `${xff}, ${addr}`);
  if (forwarded !== undefined) out.push('forwarded', `${forwarded}, for=${forwardedNode(addr)}`);
  if (kept['x-real-ip'] === undefined) out.push('x-real-ip', addr);
  if (kept['x-forwarded-proto'] === undefined) out.push('x-forwarded-proto', ctx.proto);
  if (kept['x-forwarded-host'] === undefined && effectiveHost !== undefined)
    out.push('x-forwarded-host', effectiveHost);
  if (kept['x-forwarded-port'] === undefined && socket.localPort !== undefined)
    out.push('x-forwarded-port', String(socket.localPort));
  return { ok: true, headers: out, host: effectiveHost, hasBody, requestId, clientIp: addr, teTrailers };
}

/** RFC 7239 §6: an IPv6 address is quoted and bracketed. */
function forwardedNode(addr: string): string {
  return addr.includes(':') ? `"[${addr}]"` : addr;
}
