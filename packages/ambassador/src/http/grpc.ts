// What gRPC needs from a proxy beyond HTTP/2: failures answered as gRPC statuses (HTTP 200 with
// `grpc-status` / `grpc-message` in a trailers-only response, never an HTML or text 502), the
// caller's deadline (`grpc-timeout`) honoured, and the status a call ended with, for logs and
// metrics. See https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md.
import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';

export const GRPC = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** `application/grpc`, `application/grpc+proto`, `application/grpc-web…` is not (it is HTTP/1). */
export function isGrpc(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const ct = contentType.toLowerCase();
  return (
    ct === 'application/grpc' || ct.startsWith('application/grpc+') || ct.startsWith('application/grpc;')
  );
}

const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** `grpc-timeout: 250m` → 250 (ms); undefined when absent or malformed (then no deadline). */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  const m = value ? /^(\d{1,8})([HMSmun])$/.exec(value) : null;
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** The gRPC status a proxy's own HTTP answer stands for (the spec's HTTP → gRPC mapping). */
export function grpcStatusFor(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return GRPC.INTERNAL;
    case 401:
      return GRPC.UNAUTHENTICATED;
    case 403:
      return GRPC.PERMISSION_DENIED;
    case 404:
      return GRPC.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GRPC.UNAVAILABLE;
    default:
      return GRPC.UNKNOWN;
  }
}

/**
 * A trailers-only gRPC answer: HTTP 200 with the status and message in the one HEADERS frame that
 * ends the stream — what gRPC servers send when a call fails before any message, and what a client
 * reads even while it is still sending its request.
 */
export function grpcAnswer(res: ServerResponse | Http2ServerResponse, status: number, message: string): void {
  const headers = {
    'content-type': 'application/grpc',
    'grpc-status': String(status),
    // Percent-encoded as the spec asks (it may hold any character).
    'grpc-message': encodeURIComponent(message),
  };
  if ('stream' in res && !res.stream.destroyed)
    res.stream.respond({ ':status': 200, ...headers }, { endStream: true });
  else {
    (res as ServerResponse).writeHead(200, headers);
    res.end();
  }
}
