// One attempt at one upstream: the request goes out through undici's dispatch API and the answer
// streams back to the client with back-pressure both ways, trailers included (gRPC puts its status
// there). What happens is reported to the caller, which decides about retries and accounting: a
// failure before the response head (nothing has reached the client, so another upstream may be
// tried) is told apart from a response cut short.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Dispatcher } from 'undici';
import { GRPC } from './grpc.ts';
import { applyOps, type HeaderContext, type HeaderOps } from './header-policy.ts';

export type ClientRequest = IncomingMessage | Http2ServerRequest;
export type ClientResponse = ServerResponse | Http2ServerResponse;

export interface AttemptEvents {
  /** No response head arrived: nothing was sent to the client. */
  failed(err: Error): void;
  /** The upstream's status line and headers arrived (before they are written to the client). */
  head(status: number): void;
  /** The whole response reached the client; `bytes` of body; the gRPC status it ended with. */
  done(bytes: number, grpcStatus: number | undefined): void;
  /**
   * The response was cut after its head had been sent: the client connection is destroyed (a gRPC
   * call instead ends with `grpcStatus` in its trailers, as a gRPC client expects).
   */
  cut(err: Error, bytes: number, grpcStatus: number | undefined): void;
}

export interface AttemptRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: string[];
  readonly body: ClientRequest | null;
  /** Longest wait for the response head. */
  readonly headersTimeout: number;
  /** Longest silence between body chunks (0: none, as for gRPC streams that may idle). */
  readonly bodyTimeout: number;
  /** From now on responses ask the client to close its connection (HTTP/1 clients only). */
  readonly close: boolean;
  /** A gRPC call: failures after the head end it with a gRPC status in trailers. */
  readonly grpc: boolean;
  readonly responseHeaders?: ResponseHeaderPolicy;
}

/** The pool's and route's response header ops, and the values their templates use. */
export interface ResponseHeaderPolicy {
  readonly ops: readonly HeaderOps[];
  readonly ctx: HeaderContext;
}

/** Why an attempt was aborted on purpose: the caller's gRPC deadline passed. */
export class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded';
  readonly code = 'DEADLINE_EXCEEDED';
}

/** Response headers a proxy must not pass on (RFC 9110 §7.6.1); Node frames the body itself. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The upstream's headers as the flat list Node's writeHead takes, without the hop-by-hop ones. */
function clientHeaders(headers: IncomingHttpHeaders, close: boolean): string[] {
  const out: string[] = [];
  const connection = headers.connection;
  const named =
    typeof connection === 'string'
      ? new Set(
          connection
            .toLowerCase()
            .split(',')
            .map((n) => n.trim()),
        )
      : undefined;
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || named?.has(name) || name.charCodeAt(0) === 58 /* ':' */) continue;
    const value = headers[name]!;
    if (typeof value === 'string') out.push(name, value);
    else for (const v of value) out.push(name, v);
  }
  if (close) out.push('connection', 'close');
  return out;
}

/** A flat [name, value, …] list as the object HTTP/2's writeHead takes (repeated names: arrays). */
function headerObject(flat: string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase();
    const prior = out[name];
    out[name] =
      prior === undefined ? flat[i + 1]! : [...(Array.isArray(prior) ? prior : [prior]), flat[i + 1]!];
  }
  return out;
}

function withoutStatus(h: Record<string, string | string[] | number>): Record<string, string | string[]> {
  const { ':status': _, ...rest } = h;
  return rest as Record<string, string | string[]>;
}

function grpcStatusOf(
  headers: Record<string, string | string[] | undefined> | undefined,
): number | undefined {
  const v = headers?.['grpc-status'];
  return typeof v === 'string' && /^\d{1,2}$/.test(v) ? Number(v) : undefined;
}

/** Starts the attempt; returns a function that aborts it (the client went away, a deadline). */
export function forward(
  client: Dispatcher,
  request: AttemptRequest,
  res: ClientResponse,
  events: AttemptEvents,
): (reason: Error) => void {
  const h1 = !('stream' in res);
  let controller: Dispatcher.DispatchController | undefined;
  let abortReason: Error | undefined;
  let started = false;
  let settled = false;
  let bytes = 0;
  let headStatus: number | undefined;
  /** HTTP/2 gRPC: the head of a trailers-only answer, held until the end. */
  let trailersOnly: Record<string, string | string[] | number> | undefined;
  // The first body chunk waits for the next one or the end, so a small response leaves in one
  // write (head and body together) instead of two.
  let held: Buffer | undefined;
  const resume = () => controller?.resume();

  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(c) {
      controller = c;
      if (abortReason) c.abort(abortReason);
    },
    onResponseStart(c, status, headers, statusMessage) {
      if (status < 200) return; // 1xx: Node answers 100-continue itself; others are not passed on
      started = true;
      events.head(status);
      headStatus = grpcStatusOf(headers as Record<string, string>);
      const close = h1 && request.close;
      const h = clientHeaders(headers as IncomingHttpHeaders, close);
      const policy = request.responseHeaders;
      if (policy) for (const ops of policy.ops) applyOps(h, ops, policy.ctx);
      if (close) (res as ServerResponse).shouldKeepAlive = false;
      try {
        if (h1) (res as ServerResponse).writeHead(status, statusMessage || undefined, h);
        // A gRPC status in the response head is a trailers-only answer: it must reach the client
        // as one HEADERS frame that ends the stream, which happens at the end.
        else if (headStatus !== undefined && request.grpc)
          trailersOnly = { ':status': status, ...headerObject(h) };
        else (res as Http2ServerResponse).writeHead(status, headerObject(h));
      } catch (err) {
        // A header Node refuses to send (invalid characters): the response cannot be relayed.
        started = false;
        c.abort(err as Error);
      }
    },
    onResponseData(c, chunk) {
      bytes += chunk.length;
      if (held === undefined) {
        held = chunk;
        return;
      }
      const first = held;
      held = chunk;
      if (!(res as ServerResponse).write(first)) {
        c.pause();
        res.once('drain', resume);
      }
    },
    onResponseEnd(_c, trailers) {
      settled = true;
      const last = held;
      held = undefined;
      const t = trailers as Record<string, string> | undefined;
      const h2res = res as Http2ServerResponse;
      if (trailersOnly && !last && !h2res.stream.destroyed)
        h2res.stream.respond(trailersOnly, { endStream: true });
      else {
        if (trailersOnly) h2res.writeHead(Number(trailersOnly[':status']), withoutStatus(trailersOnly));
        if (t && Object.keys(t).length > 0) res.addTrailers(t);
        (res as ServerResponse).end(last);
      }
      events.done(bytes, grpcStatusOf(t) ?? headStatus);
    },
    onResponseError(_c, err) {
      if (settled) return;
      settled = true;
      const why = abortReason ?? err;
      if (!started) return events.failed(why);
      if (request.grpc && !res.writableEnded && !res.destroyed) {
        // A gRPC client reads a cut stream as INTERNAL; the truth is the upstream went away (or
        // the deadline passed): say so in the trailers, as the spec's own proxies do.
        const status = why instanceof DeadlineExceeded ? GRPC.DEADLINE_EXCEEDED : GRPC.UNAVAILABLE;
        if (held) (res as ServerResponse).write(held);
        held = undefined;
        res.addTrailers({
          'grpc-status': String(status),
          'grpc-message': encodeURIComponent(
            why instanceof DeadlineExceeded ? 'deadline exceeded' : 'upstream closed the stream',
          ),
        });
        res.end();
        return events.cut(why, bytes, status);
      }
      events.cut(why, bytes, undefined);
      res.destroy();
    },
  };

  client.dispatch(
    {
      method: request.method,
      path: request.path,
      headers: request.headers,
      body: request.body as IncomingMessage | null,
      headersTimeout: request.headersTimeout,
      bodyTimeout: request.bodyTimeout,
      // Retries are the listener's decision (another upstream, within the budget), not undici's.
      idempotent: false,
    },
    handler,
  );

  return (reason) => {
    if (settled) return;
    abortReason = reason;
    controller?.abort(reason);
  };
}
