// Checks, before any container starts, that every port the demo needs is free — and says which
// one is taken and how to move them all.
import { createServer } from 'node:net';
import type { PortUse } from './pod.ts';

/** Resolves true when nothing listens on host:port (by binding it for a moment). */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false);
      else reject(err);
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Returns one message per busy port, empty when all are free. */
export async function busyPorts(uses: readonly PortUse[], host = '127.0.0.1'): Promise<string[]> {
  const results = await Promise.all(uses.map((u) => isPortFree(u.port, host)));
  return uses.filter((_, i) => !results[i]).map((u) => `port ${u.port} (${u.what}) is already in use`);
}

export function portHint(): string {
  return 'stop whatever uses it, or move the demo: node demo/main.ts --port-base 18000 (or DEMO_PORT_BASE=18000)';
}
