// Active health checks: every interval, each upstream of a pool gets an HTTP GET of the path
// (2xx or 3xx passes) or a bare TCP/TLS connect; the pool applies rise/fall.
import { request as httpRequest } from 'node:http';
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
