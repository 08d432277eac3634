// The ambassador: builds the config (simple form or file), binds every listener and the admin
// server, swaps the config atomically on reload, and drains on stop.
import { readFileSync } from 'node:fs';
import type { Server as NetServer, Socket } from 'node:net';
import { dirname } from 'node:path';
import {
  closeServer,
  createAdminServer,
  type FileWatcher,
  Health,
  type Logger,
  listen,
  SettingError,
  watchFile,
} from '@multipod/service';
import { Registry } from 'prom-client';
import { type AccessLog, noAccessLog } from './access-log.ts';
import { type AmbassadorSettings, poolDefaults, simpleConfig } from './config.ts';
import { ConfigFileError, parseConfigFile } from './config-file.ts';
import { type AddressResolver, type DiscoveryEvents, systemResolver } from './discovery.ts';
import { createHttpListener, type HttpListener } from './http/listener.ts';
import { UpstreamClients } from './http/upstream-clients.ts';
import { Metrics } from './metrics.ts';
import type { PoolEvents } from './pool.ts';
import { acceptProxyProtocol } from './proxy-protocol.ts';
import { buildState, type ProxyState } from './state.ts';
import { createTcpListener, type TcpListener } from './tcp-proxy.ts';
import { type TlsReloadResult, TlsTerminator } from './tls-terminate.ts';
import type { ListenerConfig, ProxyConfig } from './types.ts';

export interface AmbassadorDeps {
  log: Logger;
  registry?: Registry;
  accessLog?: AccessLog;
  readFile?: (path: string) => string;
  /** Milliseconds, for ejection and health state. */
  now?: () => number;
  /** Watch the config file (default true); tests may call reload() themselves. */
  watch?: boolean;
  /** How host-name upstreams are resolved (default: the system's DNS, then the hosts file). */
  resolver?: AddressResolver;
}

export type ReloadResult = 'applied' | 'unchanged' | 'rejected';

export interface Ambassador {
  /** Bound port of each listener, by name. */
  readonly ports: ReadonlyMap<string, number>;
  readonly adminPort: number;
  readonly health: Health;
  readonly registry: Registry;
  state(): ProxyState;
  reload(): ReloadResult;
  /** Re-reads a TLS listener's certificate files now (they are also watched). */
  reloadTls(listener: string): TlsReloadResult;
  stop(): Promise<void>;
}

export async function createAmbassador(s: AmbassadorSettings, deps: AmbassadorDeps): Promise<Ambassador> {
  const log = deps.log;
  const readFile = deps.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const registry = deps.registry ?? new Registry();
  const accessLog = deps.accessLog ?? noAccessLog;
  const now = deps.now ?? Date.now;

  const defaults = {
    ...poolDefaults(s, readFile),
    maxInFlight: s.maxInFlight,
    host: s.host,
    trustForwarded: s.trustForwarded,
    requestId: s.requestId,
  };
  let fileText: string | undefined;
  const loadFile = (text: string) => parseConfigFile(text, s.config!, defaults, readFile);

  let config: ProxyConfig;
  if (s.config !== undefined) {
    try {
      fileText = readFile(s.config);
    } catch (err) {
      throw new SettingError(
        `invalid setting --config / AMBASSADOR_CONFIG: cannot read ${s.config}: ${(err as Error).message}`,
      );
    }
    try {
      config = loadFile(fileText);
    } catch (err) {
      if (err instanceof ConfigFileError) throw new SettingError(`invalid config file:\n${err.message}`);
      throw err;
    }
  } else config = simpleConfig(s, readFile);

  let state: ProxyState;
  const metrics = new Metrics(registry, () => state.pools.values(), now);
  const events: Partial<PoolEvents> = {
    ejected(pool, u, forMs) {
      metrics.ejections.inc({ pool: pool.name, upstream: u.name });
      log.warn({ pool: pool.name, upstream: u.name, forMs }, 'upstream ejected after consecutive failures');
    },
    panic(pool) {
      metrics.panics.inc({ pool: pool.name });
    },
    healthChanged(pool, u, healthy) {
      log[healthy ? 'info' : 'warn'](
        { pool: pool.name, upstream: u.name },
        healthy ? 'upstream is healthy' : 'upstream failed its health checks',
      );
    },
  };
  const resolver = deps.resolver ?? systemResolver();
  const discoveryEvents: Partial<DiscoveryEvents> = {
    resolved(pool, name, ok, error) {
      metrics.resolutions.inc({ pool: pool.name, result: ok ? 'ok' : 'error' });
      if (!ok)
        log.warn(
          { pool: pool.name, name, err: error },
          'cannot resolve an upstream name; keeping its last addresses',
        );
    },
    changed(pool, name, added, removed) {
      log.info(
        { pool: pool.name, name, added: added.map((u) => u.name), removed: removed.map((u) => u.name) },
        'upstream addresses changed',
      );
    },
  };
  const onFileError = (file: string, err: Error) =>
    log.error({ file, err: err.message }, 'cannot re-read a file; keeping its last good value');
  const build = (c: ProxyConfig, previous?: ProxyState) =>
    buildState(c, { previous, now, events, resolver, discoveryEvents, onFileError });
  /** Starts a state's checks and discovery; waits (a little) for the first resolution of its names. */
  const activate = async (st: ProxyState) => {
    for (const c of st.checkers) c.start();
    const first = Promise.all(st.discoveries.map((d) => d.start()));
    await Promise.race([first, new Promise((r) => setTimeout(r, 3000).unref())]);
  };
  state = build(config);
  await activate(state);

  const clients = new UpstreamClients();
  // Each TLS listener's certificates, loaded (and checked) once here and reloaded in place.
  const terminators = new Map<string, TlsTerminator>();
  for (const l of config.listeners) if (l.tls) terminators.set(l.name, new TlsTerminator(l.tls, readFile));
  metrics.accessLogDropped = () => accessLog.dropped;
  metrics.tlsCertificates = () =>
    [...terminators].flatMap(([listener, t]) =>
      t.certificates.map((c) => ({ listener, name: c.name, notAfter: c.notAfter })),
    );
  const httpListeners: HttpListener[] = [];
  const tcpListeners: TcpListener[] = [];
  const servers: NetServer[] = [];
  const ports = new Map<string, number>();
  const common = { state: () => state, metrics, accessLog, log };
  try {
    for (const l of config.listeners) {
      let server: NetServer;
      if (l.protocol === 'http') {
        const h = createHttpListener(l, {
          ...common,
          clients,
          clientIdleTimeout: s.clientIdleTimeout,
          tls: terminators.get(l.name),
        });
        httpListeners.push(h);
        server = h.server;
      } else {
        const t = createTcpListener(l, { ...common, tls: terminators.get(l.name) });
        tcpListeners.push(t);
        server = t.server;
      }
      if (l.proxyProtocol)
        acceptProxyProtocol(server, {
          onError(err) {
            metrics.proxyProtocolErrors.inc({ listener: l.name });
            log.debug(
              { listener: l.name, err: err.message },
              'connection refused: bad or missing PROXY header',
            );
          },
        });
      servers.push(server);
      const setting =
        s.config !== undefined ? `listener "${l.name}" in ${s.config}` : '--listen / AMBASSADOR_LISTEN';
      ports.set(l.name, await listen(server, { port: l.port, host: l.host, setting }));
    }
  } catch (err) {
    for (const srv of servers) srv.close();
    for (const c of state.checkers) c.stop();
    for (const d of state.discoveries) d.stop();
    throw err;
  }

  // With readyWhen=upstream, only active checks can say an app is down: passive ejection never
  // empties a pool, so without a check readiness could never follow the upstream. Say so at start.
  if (s.readyWhen === 'upstream') {
    const unchecked = [...state.pools.values()].filter((p) => !p.config.healthCheck).map((p) => p.name);
    if (unchecked.length > 0) {
      for (const srv of servers) srv.close();
      for (const c of state.checkers) c.stop();
      for (const d of state.discoveries) d.stop();
      throw new SettingError(
        `invalid setting --ready-when / AMBASSADOR_READY_WHEN: "upstream" needs an active health check, and pool ${unchecked.join(', ')} has none (set --health-check / AMBASSADOR_HEALTH_CHECK, or healthCheck in the file)`,
      );
    }
  }
  const health = new Health({
    ready: () => {
      const t = now();
      const empty = [...state.pools.values()]
        .filter((p) => !p.upstreams.some((u) => u.up(t)))
        .map((p) => p.name);
      // readyWhen=listening (outbound): an empty pool is reported but does not fail the probe (the
      // ambassador answers 503 for it at once; taking the app's pod out would not help).
      // readyWhen=upstream (inbound): a pool whose every upstream fails its active checks fails it,
      // so the pod leaves its Service while its app is down. Ejection is not asked: it never
      // empties a pool, so one path's 503s cannot flap the pod out.
      const down =
        s.readyWhen === 'upstream'
          ? [...state.pools.values()]
              .filter((p) => p.config.healthCheck && !p.upstreams.some((u) => u.healthy))
              .map((p) => p.name)
          : [];
      const unresolved = state.discoveries
        .flatMap((d) => d.status())
        .filter((n) => n.error)
        .map(
          (n) =>
            `pool ${n.pool}: ${n.error} (keeping ${n.addresses} address${n.addresses === 1 ? '' : 'es'})`,
        );
      const reasons = [
        ...(empty.length ? [`no healthy upstream in pool ${empty.join(', ')}`] : []),
        ...unresolved,
      ];
      if (down.length)
        return { ok: false, reason: `no upstream passes its health check in pool ${down.join(', ')}` };
      return { ok: true, reason: reasons.length ? reasons.join('; ') : undefined };
    },
  });
  const admin = createAdminServer({ health, registry });
  const adminPort = await listen(admin, {
    port: s.adminPort,
    host: s.host,
    setting: '--admin-port / AMBASSADOR_ADMIN_PORT',
  });
  if (s.httpEngine !== undefined)
    log.warn(
      { setting: '--http-engine / AMBASSADOR_HTTP_ENGINE', value: s.httpEngine },
      'setting is deprecated and ignored: HTTP is forwarded by one engine (undici); remove it, it will be refused from 0.3.0',
    );
  log.info(
    { listeners: config.listeners.map((l) => `${l.name} ${l.protocol} :${ports.get(l.name)}`), adminPort },
    'ambassador listening',
  );

  const sameListeners = (a: readonly ListenerConfig[], b: readonly ListenerConfig[]) =>
    a.length === b.length &&
    a.every(
      (l, i) =>
        l.name === b[i]!.name &&
        l.host === b[i]!.host &&
        l.port === b[i]!.port &&
        l.protocol === b[i]!.protocol &&
        l.redirectToHttps === b[i]!.redirectToHttps &&
        l.proxyProtocol === b[i]!.proxyProtocol &&
        JSON.stringify(l.tls) === JSON.stringify(b[i]!.tls),
    );

  const reload = (): ReloadResult => {
    if (s.config === undefined) return 'unchanged';
    let text: string;
    try {
      text = readFile(s.config);
    } catch (err) {
      metrics.reloads.inc({ result: 'rejected' });
      metrics.configOk.set(0);
      log.error(
        { file: s.config, err: (err as Error).message },
        'config reload rejected: cannot read the file; keeping the running config',
      );
      return 'rejected';
    }
    if (text === fileText) return 'unchanged';
    fileText = text;
    let next: ProxyConfig;
    try {
      next = loadFile(text);
      if (!sameListeners(next.listeners, state.config.listeners))
        throw new ConfigFileError(
          `${s.config}: listeners changed (name, host, port, protocol, tls files or redirect); that needs a restart`,
        );
    } catch (err) {
      metrics.reloads.inc({ result: 'rejected' });
      metrics.configOk.set(0);
      log.error(
        { file: s.config, problems: (err as Error).message.split('\n') },
        'config reload rejected; keeping the running config',
      );
      return 'rejected';
    }
    const old = state;
    const fresh = build(next, old);
    state = fresh; // the one atomic step: every new request sees the new routes and pools
    for (const c of old.checkers) c.stop();
    for (const d of old.discoveries) d.stop();
    void activate(fresh);
    metrics.reloads.inc({ result: 'applied' });
    metrics.configOk.set(1);
    log.info({ file: s.config, pools: [...next.pools.keys()] }, 'config reloaded');
    return 'applied';
  };

  let watcher: FileWatcher | undefined;
  if (s.config !== undefined && deps.watch !== false) watcher = watchFile(s.config, () => reload());

  /** Re-reads a TLS listener's certificates; a bad set is refused and the running one kept. */
  const reloadTls = (listener: string): TlsReloadResult => {
    const t = terminators.get(listener)!;
    const { result, error } = t.reload();
    if (result === 'unchanged') return result;
    metrics.tlsReloads.inc({ listener, result });
    if (result === 'applied')
      log.info({ listener, certificates: t.certificates.map((c) => c.name) }, 'TLS certificates reloaded');
    else
      log.error(
        { listener, err: error },
        'TLS certificate reload rejected; keeping the running certificates',
      );
    return result;
  };
  const tlsWatchers: FileWatcher[] = [];
  if (deps.watch !== false)
    // One watcher per folder (a Secret's files share one); watchFile watches a file's folder.
    for (const [listener, t] of terminators)
      for (const file of new Map(t.files().map((f) => [dirname(f), f])).values())
        tlsWatchers.push(watchFile(file, () => reloadTls(listener)));

  const stop = async () => {
    health.drain();
    log.info({ drainDelay: s.drainDelay }, 'draining: /readyz is 503; listeners close after the drain delay');
    if (s.drainDelay > 0) await new Promise((r) => setTimeout(r, s.drainDelay));
    watcher?.close();
    for (const w of tlsWatchers) w.close();
    for (const h of httpListeners) h.drain();
    // Whatever is still running when the grace period is nearly over is cut, so we exit 0 in time.
    const budget = Math.max(100, s.shutdownTimeout - s.drainDelay - 500);
    const cut = setTimeout(() => {
      for (const h of httpListeners) h.cut();
      for (const t of tcpListeners) for (const sock of t.sockets) sock.destroy();
    }, budget);
    await Promise.all([
      ...httpListeners.map((h) => h.close()),
      ...tcpListeners.map(
        (t) =>
          new Promise<void>((resolve) => {
            t.server.close(() => resolve());
            // Half-open TCP streams end when both sides have ended.
            for (const sock of t.sockets as Set<Socket>) if (sock.readableEnded) sock.end();
          }),
      ),
    ]);
    clearTimeout(cut);
    for (const c of state.checkers) c.stop();
    for (const d of state.discoveries) d.stop();
    await clients.closeAll();
    accessLog.flush();
    await closeServer(admin);
  };

  return { ports, adminPort, health, registry, state: () => state, reload, reloadTls, stop };
}
