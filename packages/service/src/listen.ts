// Binds a server to a port, turning the usual failures into errors that name the setting.
import type { Server } from 'node:net';
import { SettingError } from './settings.ts';

export class ListenError extends Error {
  override name = 'ListenError';
}

export interface ListenOptions {
  port: number;
  host?: string;
  /** How the user set this port, e.g. "--port / WEB_PORT", for the error message. */
  setting: string;
  /** How the user set the host, e.g. "--host / WEB_HOST": an address that cannot be bound is a bad setting. */
  hostSetting?: string;
}

/** Failures that are the address's fault, not the port's: it does not resolve, or is not this machine's. */
const ADDRESS_ERRORS: Record<string, string> = {
  ENOTFOUND: 'does not resolve',
  EAI_AGAIN: 'does not resolve (DNS unavailable)',
  EAI_FAIL: 'does not resolve',
  EADDRNOTAVAIL: 'is not an address of this machine',
  EAFNOSUPPORT: 'is of an address family this machine does not support',
};

/** Resolves with the bound port (useful with port 0 in tests). */
export function listen(server: Server, opts: ListenOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const where = `${opts.host ?? '0.0.0.0'}:${opts.port} (${opts.setting})`;
      const address = ADDRESS_ERRORS[err.code ?? ''];
      if (address && opts.hostSetting)
        reject(
          new SettingError(
            `invalid setting ${opts.hostSetting}: ${JSON.stringify(opts.host)} ${address} (${err.code}); use 0.0.0.0, :: or an address of this machine`,
          ),
        );
      else if (address)
        reject(new ListenError(`cannot listen on ${opts.host}: the address ${address} (${err.code})`));
      else if (err.code === 'EADDRINUSE')
        reject(new ListenError(`port ${where} is already in use; choose another with ${opts.setting}`));
      else if (err.code === 'EACCES')
        reject(
          new ListenError(
            `no permission to listen on ${where}; ports below 1024 need root or net.ipv4.ip_unprivileged_port_start`,
          ),
        );
      else reject(new ListenError(`cannot listen on ${where}: ${err.message}`));
    };
    const onListening = () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : opts.port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ port: opts.port, host: opts.host });
  });
}

/**
 * Closes a server and waits for its connections to end. close() only drops the keep-alive sockets
 * idle at that moment; one busy then (a client mid-response) turns idle later and would hold the
 * process until the shutdown deadline, so idle sockets are swept until the server has closed.
 */
export function closeServer(server: Server & { closeIdleConnections?: () => void }): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const sweep = server.closeIdleConnections && setInterval(() => server.closeIdleConnections?.(), 50);
    server.close(() => {
      if (sweep) clearInterval(sweep);
      resolve();
    });
    server.closeIdleConnections?.();
  });
}
