// Active health checks: every interval, each upstream of a pool gets an HTTP GET of the path
// (2xx or 3xx passes), a bare TCP/TLS connect, or a gRPC health check (grpc.health.v1); the pool
// applies rise/fall.
import { request as httpRequest } from 'node:http';
import { type ClientHttp2Session, connect as http2Connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Pool, Upstream } from './pool.ts';
import { tlsConnectOptions } from './tls.ts';

export class HealthChecker {
  readonly #pool: Pool;
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  start(): void {
    const hc = this.#pool.config.healthCheck;
    if (!hc) return;
    for (const u of this.#pool.upstreams) this.#loop(u, 0);
  }

  /** Upstreams that joined the pool (discovery): checked at once, then every interval. Those that
   * left stop being checked at their next turn. */
  track(added: readonly Upstream[]): void {
    if (!this.#pool.config.healthCheck || this.#stopped) return;
    for (const u of added) this.#loop(u, 0);
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #loop(u: Upstream, delay: number): void {
    if (this.#stopped || !this.#pool.upstreams.includes(u)) return;
    const t = setTimeout(() => {
      this.#timers.delete(t);
      void checkOnce(this.#pool, u).then((ok) => {
        if (this.#stopped) return;
        this.#pool.checked(u, ok);
        this.#loop(u, this.#pool.config.healthCheck!.interval);
      });
    }, delay);
    t.unref();
    this.#timers.add(t);
  }
}

/** One check; resolves true when it passes, never rejects. */
export function checkOnce(pool: Pool, u: Upstream): Promise<boolean> {
  const hc = pool.config.healthCheck!;
  const tls = pool.config.tls;
  if (hc.type === 'grpc') return grpcCheck(pool, u);
  if (hc.type === 'http' && pool.config.protocol !== 'http1') return h2Check(pool, u);
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean, cleanup?: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      cleanup?.();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false, () => socketOrReq?.destroy()), hc.timeout);
    let socketOrReq: { destroy(): void } | undefined;
    if (hc.type === 'tcp') {
      const socket: Socket = u.tls
        ? tlsConnect({ host: u.connectHost, port: u.port, ...tlsConnectOptions(u, tls) })
        : netConnect({ host: u.connectHost, port: u.port });
      socketOrReq = socket;
      socket.once(u.tls ? 'secureConnect' : 'connect', () => finish(true, () => socket.destroy()));
      socket.once('error', () => finish(false, () => socket.destroy()));
      return;
    }
    const request = u.tls ? httpsRequest : httpRequest;
    const req = request({
      host: u.connectHost,
      port: u.port,
      path: hc.path,
      method: 'GET',
      agent: false,
      headers: { 'user-agent': 'multipod-ambassador health check', host: u.url.host },
      ...(u.tls ? tlsConnectOptions(u, tls) : {}),
    });
    socketOrReq = req;
    req.once('response', (res) => {
      const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400;
      res.resume();
      finish(ok, () => req.destroy());
    });
    req.once('error', () => finish(false));
    req.end();
  });
}

/**
 * Opens an HTTP/2 session to the upstream, as the pool's requests go (TLS or h2c), and runs one
 * probe on it; the session is closed, and the answer settled, on the first of: the probe's
 * verdict, a session error, the timeout.
 */
function h2Probe(
  pool: Pool,
  u: Upstream,
  probe: (session: ClientHttp2Session, finish: (ok: boolean) => void) => void,
): Promise<boolean> {
  const hc = pool.config.healthCheck!;
  return new Promise((resolve) => {
    let done = false;
    const host = u.connectHost.includes(':') ? `[${u.connectHost}]` : u.connectHost;
    const session = http2Connect(`${u.tls ? 'https' : 'http'}://${host}:${u.port}`, {
      ...(u.tls ? tlsConnectOptions(u, pool.config.tls) : {}),
    });
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      session.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), hc.timeout);
    session.on('error', () => finish(false));
    probe(session, finish);
  });
}

/** An HTTP check of an HTTP/2 pool, over HTTP/2 as its requests go: 2xx or 3xx passes. */
function h2Check(pool: Pool, u: Upstream): Promise<boolean> {
  return h2Probe(pool, u, (session, finish) => {
    const stream = session.request({
      ':path': pool.config.healthCheck!.path,
      ':authority': u.url.host,
      'user-agent': 'multipod-ambassador health check',
    });
    stream.on('response', (h) => {
      const status = Number(h[':status']);
      finish(status >= 200 && status < 400);
    });
    stream.on('error', () => finish(false));
    stream.end();
  });
}

/** A protobuf varint: 7 bits a byte, low bits first, the high bit set on all but the last. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** The gRPC frame of HealthCheckRequest{service=1}: a 5-byte prefix, then the one optional field. */
function healthCheckRequestFrame(serviceName: string): Buffer {
  const service = Buffer.from(serviceName, 'utf8');
  const message =
    service.length > 0
      ? Buffer.concat([Buffer.from([0x0a, ...varint(service.length)]), service])
      : Buffer.alloc(0);
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/**
 * grpc.health.v1.Health/Check over HTTP/2: passes when the server answers SERVING for the service
 * ('' = the server itself) with grpc-status 0. The protobuf messages are one optional field each,
 * written and read by hand: HealthCheckRequest{service=1}, HealthCheckResponse{status=1}.
 */
function grpcCheck(pool: Pool, u: Upstream): Promise<boolean> {
  return h2Probe(pool, u, (session, finish) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      ':authority': u.url.host,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'multipod-ambassador health check',
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    stream.on('response', (h) => (status = h['grpc-status'] as string | undefined));
    stream.on('trailers', (t) => (status = (t['grpc-status'] as string | undefined) ?? status));
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('error', () => finish(false));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      // One message: the 5-byte prefix, then field 1 (varint) = SERVING (1).
      const serving = body.length >= 7 && body[5] === 0x08 && body[6] === 0x01;
      finish(status === '0' && serving);
    });
    stream.end(healthCheckRequestFrame(pool.config.healthCheck!.service ?? ''));
  });
}
