// Liveness and readiness: GET /healthz and GET /readyz, answered the same way by every component.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface Probe {
  ok: boolean;
  /** Why it is not ok (or a short status when it is), shown in the response body. */
  reason?: string;
}

export type ProbeFn = () => Probe | Promise<Probe>;

export interface HealthChecks {
  /** Alive: defaults to always ok. */
  live?: ProbeFn;
  /** Able to do its job right now. */
  ready: ProbeFn;
}

/** Readiness that also turns 503 once shutdown has begun, so load balancers stop sending first. */
export class Health {
  #draining = false;
  readonly #checks: HealthChecks;

  constructor(checks: HealthChecks) {
    this.#checks = checks;
  }

  drain(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  async live(): Promise<Probe> {
    return this.#checks.live ? this.#checks.live() : { ok: true };
  }

  async ready(): Promise<Probe> {
    if (this.#draining) return { ok: false, reason: 'shutting down' };
    return this.#checks.ready();
  }
}

/** Answers /healthz and /readyz; returns false for any other path so the caller can go on. */
export function handleHealth(health: Health, req: IncomingMessage, res: ServerResponse): boolean {
  const path = (req.url ?? '').split('?', 1)[0];
  if (path !== '/healthz' && path !== '/readyz') return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res
      .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
      .end('method not allowed\n');
    return true;
  }
  const probe = path === '/healthz' ? health.live() : health.ready();
  Promise.resolve(probe).then(
    (p) =>
      reply(
        res,
        req.method === 'HEAD',
        p.ok ? 200 : 503,
        `${p.ok ? 'ok' : 'not ok'}${p.reason ? `: ${p.reason}` : ''}\n`,
      ),
    (err: Error) => reply(res, req.method === 'HEAD', 503, `not ok: ${err.message}\n`),
  );
  return true;
}

function reply(res: ServerResponse, head: boolean, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
  });
  res.end(head ? undefined : body);
}
