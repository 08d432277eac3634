// One attempt at one upstream: the request goes out through undici's dispatch API and the answer
// streams back to the client with back-pressure both ways. What happens is reported to the caller,
// which decides about retries and accounting: a failure before the response head (nothing has
// reached the client, so another upstream may be tried) is told apart from a response cut short.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { applyOps, type HeaderContext, type HeaderOps } from './header-policy.ts';

export interface AttemptEvents {
  /** No response head arrived: nothing was sent to the client. */
  failed(err: Error): void;
  /** The upstream's status line and headers arrived (before they are written to the client). */
  head(status: number): void;
  /** The whole response reached the client's socket buffer; `bytes` of body. */
  done(bytes: number): void;
  /** The response was cut after its head had been sent; the client connection is destroyed. */
  cut(err: Error, bytes: number): void;
}

export interface AttemptRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: string[];
  readonly body: IncomingMessage | null;
  /** Longest silence from the upstream: before the head, and between body chunks. */
  readonly readTimeout: number;
  /** From now on responses ask the client to close its connection. */
  readonly close: boolean;
  readonly responseHeaders?: ResponseHeaderPolicy;
}

/** The pool's and route's response header ops, and the values their templates use. */
export interface ResponseHeaderPolicy {
  readonly ops: readonly HeaderOps[];
  readonly ctx: HeaderContext;
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
    typeof connection === 'string' &&
    connection.includes(',') === false &&
    HOP_BY_HOP.has(connection.toLowerCase())
      ? undefined
      : typeof connection === 'string'
        ? new Set(
            connection
              .toLowerCase()
              .split(',')
              .map((n) => n.trim()),
          )
        : undefined;
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || named?.has(name)) continue;
    const value = headers[name]!;
    if (typeof value === 'string') out.push(name, value);
    else for (const v of value) out.push(name, v);
  }
  if (close) out.push('connection', 'close');
  return out;
}

/** Starts the attempt; returns a function that aborts it (the client went away). */
export function forward(
  client: Dispatcher,
  request: AttemptRequest,
  res: ServerResponse,
  events: AttemptEvents,
): (reason: Error) => void {
  let controller: Dispatcher.DispatchController | undefined;
  let abortReason: Error | undefined;
  let started = false;
  let settled = false;
  let bytes = 0;
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
      const h = clientHeaders(headers as IncomingHttpHeaders, request.close);
      const policy = request.responseHeaders;
      if (policy) for (const ops of policy.ops) applyOps(h, ops, policy.ctx);
      if (request.close) res.shouldKeepAlive = false;
      try {
        res.writeHead(status, statusMessage || undefined, h);
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
      if (!res.write(first)) {
        c.pause();
        res.once('drain', resume);
      }
    },
    onResponseEnd() {
      settled = true;
      const last = held;
      held = undefined;
      res.end(last);
      events.done(bytes);
    },
    onResponseError(_c, err) {
      if (settled) return;
      settled = true;
      if (!started) events.failed(abortReason ?? err);
      else {
        events.cut(abortReason ?? err, bytes);
        res.destroy();
      }
    },
  };

  client.dispatch(
    {
      method: request.method,
      path: request.path,
      headers: request.headers,
      body: request.body,
      headersTimeout: request.readTimeout,
      bodyTimeout: request.readTimeout,
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
