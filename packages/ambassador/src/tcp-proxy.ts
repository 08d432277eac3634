// A TCP listener: each client connection goes to one upstream of the pool (plain or TLS), bytes
// piped both ways with backpressure and half-close. The client is not read until the upstream is
// connected, so a failed connect can move to the next upstream without losing a byte.
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, TLSSocket, connect as tlsConnect } from 'node:tls';
import type { Logger } from '@multipod/service';
import type { AccessLog } from './access-log.ts';
import type { Metrics } from './metrics.ts';
import type { Pool, Upstream } from './pool.ts';
import { addressesOf, encodeV1, encodeV2 } from './proxy-protocol.ts';
import type { ProxyState } from './state.ts';
import { tlsConnectOptions } from './tls.ts';
import type { TlsTerminator } from './tls-terminate.ts';
import type { ListenerConfig } from './types.ts';

export interface TcpDeps {
  state(): ProxyState;
  metrics: Metrics;
  accessLog: AccessLog;
  log: Logger;
  /** Terminates TLS on this listener: clients speak TLS, upstreams get plain TCP (or tls://). */
  tls?: TlsTerminator;
  now?: () => number;
}

export interface TcpListener {
  readonly server: Server;
  /** Open client connections, for shutdown. */
  readonly sockets: Set<Socket>;
}

export function createTcpListener(listener: ListenerConfig, deps: TcpDeps): TcpListener {
  const now = deps.now ?? performance.now.bind(performance);
  const name = listener.name;
  const sockets = new Set<Socket>();
  const active = deps.metrics.activeConnections.labels(name);
  const toUpstream = deps.metrics.bytes.labels(name, 'upstream');
  const toClient = deps.metrics.bytes.labels(name, 'client');

  const onClient = (client: Socket) => {
    const start = now();
    sockets.add(client);
    active.inc();
    const pool = deps.state().pools.get(listener.pool!)!;
    let upstream: Upstream | undefined;
    let retries = 0;
    let error: string | undefined;
    let result = 'ok';
    const tried = new Set<Upstream>();
    client.on('error', (err) => {
      error ??= `client: ${err.message}`;
    });
    client.once('close', () => {
      sockets.delete(client);
      active.dec();
      const label = upstream?.name ?? 'none';
      deps.metrics.tcpConnections.inc({ listener: name, upstream: label, result });
      deps.accessLog.write({
        listener: name,
        upstream: label,
        status: result,
        bytes: client.bytesWritten,
        bytesIn: client.bytesRead,
        durationMs: Math.round((now() - start) * 1000) / 1000,
        retries,
        ...(error ? { error } : {}),
      });
    });

    const tryConnect = (u: Upstream) => {
      upstream = u;
      tried.add(u);
      u.inFlight++;
      // The shared-buffer relay needs a sink that is done with a chunk when write() returns: a
      // plain socket is; a TLS client is not (its writes wait in the TLS layer).
      const relay = client instanceof TLSSocket ? undefined : new Relay();
      connectUpstream(pool, u, relay, client, (err, up) => {
        if (err || !up) {
          u.inFlight--;
          pool.failed(u);
          error = `${u.name}: ${err?.message ?? 'connect failed'}`;
          const next = retries < pool.config.retries ? pool.pick(tried).upstream : undefined;
          if (next && !client.destroyed && pool.takeRetry()) {
            retries++;
            deps.metrics.retries.inc({ listener: name, pool: pool.name });
            return tryConnect(next);
          }
          result = 'error';
          client.destroy();
          return;
        }
        error = undefined;
        pool.succeeded(u);
        if (client.destroyed) {
          u.inFlight--;
          up.destroy();
          return;
        }
        splice(client, up, relay, (failure) => {
          u.inFlight--;
          toUpstream.inc(up.bytesWritten);
          toClient.inc(client.bytesWritten);
          if (failure) {
            result = 'error';
            error ??= failure;
          }
        });
      });
    };
    pool.noteRequest();
    const picked = pool.pick();
    if (picked.upstream) tryConnect(picked.upstream);
    else {
      result = 'refused';
      error = picked.reason;
      client.destroy();
    }
  };

  let server: Server;
  if (deps.tls) {
    const tlsServer = createTlsServer(
      { allowHalfOpen: true, noDelay: true, ...deps.tls.serverOptions([]) },
      (client: TLSSocket) => {
        // As pauseOnConnect does for plain TCP: nothing is read until an upstream is connected.
        client.pause();
        onClient(client);
      },
    );
    deps.tls.attach(tlsServer);
    tlsServer.on('tlsClientError', (err: NodeJS.ErrnoException) => {
      deps.metrics.tlsHandshakeErrors.inc({ listener: name });
      deps.log.debug({ listener: name, code: err.code, err: err.message }, 'TLS handshake failed');
    });
    server = tlsServer;
  } else server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, onClient);

  return { server, sockets };
}

/** Connects with the pool's timeout (and TLS options for tls:// upstreams). */
function connectUpstream(
  pool: Pool,
  u: Upstream,
  relay: Relay | undefined,
  client: Socket,
  done: (err: Error | undefined, socket?: Socket) => void,
): void {
  const socket: Socket = u.tls
    ? tlsConnect({
        host: u.connectHost,
        port: u.port,
        ...({ allowHalfOpen: true } as object),
        ...tlsConnectOptions(u, pool.config.tls),
      })
    : netConnect({
        host: u.connectHost,
        port: u.port,
        allowHalfOpen: true,
        noDelay: true,
        ...(relay ? { onread: relay.onread } : {}),
      });
  if (relay) relay.source = socket;
  const timer = setTimeout(
    () => fail(new Error(`connect timeout after ${pool.config.connectTimeout}ms`)),
    pool.config.connectTimeout,
  );
  const fail = (err: Error) => {
    clearTimeout(timer);
    socket.removeListener(u.tls ? 'secureConnect' : 'connect', ok);
    socket.destroy();
    done(err);
  };
  const ok = () => {
    clearTimeout(timer);
    socket.removeListener('error', fail);
    // The upstream learns who the client is before the client's first byte.
    const pp = pool.config.proxyProtocol;
    if (pp) socket.write(pp === 'v1' ? encodeV1(addressesOf(client)) : encodeV2(addressesOf(client)));
    done(undefined, socket);
  };
  socket.once(u.tls ? 'secureConnect' : 'connect', ok);
  socket.once('error', fail);
}

/**
 * Upstream → client without a new 64 KiB buffer per read: a plain TCP upstream reads into one
 * buffer per connection (net's `onread`), each read is written to the client at once, and reading
 * pauses while a write still holds the buffer (so it is never overwritten), which is also the
 * backpressure. TLS upstreams, and bytes read before the client is attached, use copies.
 */
export class Relay {
  sink: Socket | undefined;
  source: Socket | undefined;
  readonly #early: Buffer[] = [];
  readonly onread = {
    buffer: Buffer.allocUnsafe(64 * 1024),
    callback: (n: number, buf: Uint8Array): boolean => {
      const chunk = Buffer.from(buf.buffer, buf.byteOffset, n);
      const sink = this.sink;
      if (!sink) {
        this.#early.push(Buffer.from(chunk));
        return true;
      }
      sink.write(chunk);
      if (sink.writableLength === 0) return true;
      sink.once('drain', () => this.source?.resume());
      return false;
    },
  };

  attach(sink: Socket): void {
    this.sink = sink;
    for (const b of this.#early.splice(0)) sink.write(b);
  }
}

/** Pipes both ways; an end on one side half-closes the other; an error tears both down. */
function splice(
  client: Socket,
  up: Socket,
  relay: Relay | undefined,
  done: (failure?: string) => void,
): void {
  let closed = 0;
  let failure: string | undefined;
  const onClose = () => {
    if (++closed === 2) done(failure);
  };
  up.on('error', (err) => {
    failure ??= `upstream: ${err.message}`;
    client.destroy();
  });
  client.on('error', () => up.destroy());
  client.once('close', () => {
    up.destroy();
    onClose();
  });
  up.once('close', () => {
    // Upstream gone: let the client read what was sent, then close it whole.
    if (failure || client.writableFinished) client.destroy();
    else {
      client.once('finish', () => client.destroy());
      client.end();
    }
    onClose();
  });
  client.pipe(up);
  if (relay && relay.source === up && !(up as Socket & { encrypted?: boolean }).encrypted) {
    relay.attach(client);
    up.once('end', () => client.end());
  } else up.pipe(client);
  client.resume();
}
