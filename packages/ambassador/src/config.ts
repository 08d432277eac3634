// Settings (flags + AMBASSADOR_* env) and the simple form: one listener in front of the
// comma-separated AMBASSADOR_UPSTREAMS. The same settings are the defaults of every pool in the file.
import {
  bool,
  commonSettings,
  duration,
  int,
  list,
  MAX_TIMER_MS,
  oneOf,
  path,
  port,
  SettingError,
  type Settings,
  setting,
  text,
  url,
} from '@multipod/service';
import { keyPairProblem, pemProblem } from './tls.ts';
import { loadCertificates, TlsLoadError } from './tls-terminate.ts';
import type { ListenerConfig, ListenerTlsConfig, PoolConfig, ProxyConfig, TlsOptions } from './types.ts';
import { upstreamUrlProblem } from './upstream-url.ts';

export const settings = {
  listen: setting(port(), {
    flag: 'listen',
    env: 'AMBASSADOR_LISTEN',
    default: '8000',
    help: 'Port of the simple form listener (ports below 1024 need net.ipv4.ip_unprivileged_port_start).',
  }),
  host: setting(text('<address>'), {
    flag: 'host',
    env: 'AMBASSADOR_HOST',
    default: '0.0.0.0',
    help: 'Address the simple form listener binds.',
  }),
  upstreams: setting(list(url(['http:', 'https:', 'tcp:', 'tls:'])), {
    flag: 'upstreams',
    env: 'AMBASSADOR_UPSTREAMS',
    help: 'Simple form: upstream URLs, http(s):// for an HTTP proxy or tcp:// / tls:// for a TCP one.',
  }),
  config: setting(path(), {
    flag: 'config',
    env: 'AMBASSADOR_CONFIG',
    help: 'Full form: YAML file of listeners, routes and pools; reloaded when it changes. Wins over --upstreams.',
  }),
  tlsCertFile: setting(path(), {
    flag: 'tls-cert-file',
    env: 'AMBASSADOR_TLS_CERT_FILE',
    help: 'Simple form: terminate TLS on the listener with this PEM certificate (tls.crt of a kubernetes.io/tls Secret); reloaded when it changes.',
  }),
  tlsKeyFile: setting(path(), {
    flag: 'tls-key-file',
    env: 'AMBASSADOR_TLS_KEY_FILE',
    help: 'PEM private key of --tls-cert-file (tls.key).',
  }),
  tlsClientCaFile: setting(path(), {
    flag: 'tls-client-ca-file',
    env: 'AMBASSADOR_TLS_CLIENT_CA_FILE',
    help: 'Mutual TLS: clients must present a certificate signed by this PEM CA bundle.',
  }),
  httpRedirectPort: setting(port(), {
    flag: 'http-redirect-port',
    env: 'AMBASSADOR_HTTP_REDIRECT_PORT',
    help: 'With TLS: also listen for plain HTTP on this port and answer 308 to https:// (port 443).',
  }),
  proxyProtocol: setting(bool(), {
    flag: 'proxy-protocol',
    env: 'AMBASSADOR_PROXY_PROTOCOL',
    default: 'false',
    help: 'Simple form: every connection starts with a PROXY protocol header (v1/v2) from a load balancer, naming the real client.',
  }),
  adminPort: setting(port(), {
    flag: 'admin-port',
    env: 'AMBASSADOR_ADMIN_PORT',
    default: '9901',
    help: 'Port of /healthz, /readyz and /metrics.',
  }),
  balance: setting(oneOf(['round-robin', 'least-requests']), {
    flag: 'balance',
    env: 'AMBASSADOR_BALANCE',
    default: 'round-robin',
    help: 'How a pool picks an upstream (both honour weights).',
  }),
  connectTimeout: setting(duration({ min: 1 }), {
    flag: 'connect-timeout',
    env: 'AMBASSADOR_CONNECT_TIMEOUT',
    default: '2s',
    help: 'Longest wait to connect to an upstream (then 504, or the next upstream).',
  }),
  readTimeout: setting(duration({ min: 1 }), {
    flag: 'read-timeout',
    env: 'AMBASSADOR_READ_TIMEOUT',
    default: '30s',
    help: 'Longest silence from an upstream while waiting for its response (504) or its next bytes.',
  }),
  idleTimeout: setting(duration({ min: 1 }), {
    flag: 'upstream-idle-timeout',
    env: 'AMBASSADOR_UPSTREAM_IDLE_TIMEOUT',
    default: '4s',
    help: "Idle keep-alive connections to upstreams close after this; keep it below the upstream's (Node: 5s).",
  }),
  clientIdleTimeout: setting(duration({ min: 1 }), {
    flag: 'client-idle-timeout',
    env: 'AMBASSADOR_CLIENT_IDLE_TIMEOUT',
    default: '65s',
    help: 'Idle keep-alive connections from clients close after this.',
  }),
  retries: setting(int(0, 10), {
    flag: 'retries',
    env: 'AMBASSADOR_RETRIES',
    default: '1',
    help: 'Extra attempts, on another upstream, for idempotent requests that failed before any response byte.',
  }),
  retryBudget: setting(int(0, 100, '<percent>'), {
    flag: 'retry-budget',
    env: 'AMBASSADOR_RETRY_BUDGET',
    default: '20',
    help: 'Retries may add at most this percentage of requests (so a sick pool is not hammered).',
  }),
  maxInFlight: setting(int(0, 1_000_000), {
    flag: 'max-in-flight',
    env: 'AMBASSADOR_MAX_IN_FLIGHT',
    default: '0',
    help: 'Requests (or TCP connections) at once per upstream; 0 = unlimited. Over it: next upstream or 503.',
  }),
  healthCheckPath: setting(text('<path|tcp>'), {
    flag: 'health-check',
    env: 'AMBASSADOR_HEALTH_CHECK',
    help: 'Active health check: an HTTP path like /healthz, "tcp" for a connect check, or "grpc" (grpc.health.v1; HTTP/2 pools). Unset = passive only.',
  }),
  healthCheckInterval: setting(duration({ min: 10 }), {
    flag: 'health-check-interval',
    env: 'AMBASSADOR_HEALTH_CHECK_INTERVAL',
    default: '5s',
    help: 'Time between active health checks of each upstream.',
  }),
  healthCheckTimeout: setting(duration({ min: 1 }), {
    flag: 'health-check-timeout',
    env: 'AMBASSADOR_HEALTH_CHECK_TIMEOUT',
    default: '1s',
    help: 'A health check slower than this fails.',
  }),
  rise: setting(int(1, 100), {
    flag: 'rise',
    env: 'AMBASSADOR_HEALTH_CHECK_RISE',
    default: '2',
    help: 'Consecutive passing checks that bring an upstream back.',
  }),
  fall: setting(int(1, 100), {
    flag: 'fall',
    env: 'AMBASSADOR_HEALTH_CHECK_FALL',
    default: '3',
    help: 'Consecutive failing checks that take an upstream out.',
  }),
  ejectAfter: setting(int(0, 1000), {
    flag: 'eject-after',
    env: 'AMBASSADOR_EJECT_AFTER',
    default: '5',
    help: 'Consecutive failed requests (connect error, timeout, 502/503/504) that eject an upstream; 0 = never.',
  }),
  // The longest ejection is 10 times this, and must still fit a timer.
  ejectTime: setting(duration({ min: 1, max: Math.floor(MAX_TIMER_MS / 10) }), {
    flag: 'eject-time',
    env: 'AMBASSADOR_EJECT_TIME',
    default: '10s',
    help: 'First ejection lasts this long; each next one doubles, up to 10 times this.',
  }),
  caFile: setting(path(), {
    flag: 'ca-file',
    env: 'AMBASSADOR_CA_FILE',
    help: 'PEM CA bundle trusted for https:// and tls:// upstreams (default: the system CAs).',
  }),
  certFile: setting(path(), {
    flag: 'cert-file',
    env: 'AMBASSADOR_CERT_FILE',
    help: 'PEM client certificate for https:// and tls:// upstreams that want mutual TLS.',
  }),
  keyFile: setting(path(), {
    flag: 'key-file',
    env: 'AMBASSADOR_KEY_FILE',
    help: 'PEM private key of --cert-file.',
  }),
  serverName: setting(text('<name>'), {
    flag: 'server-name',
    env: 'AMBASSADOR_SERVER_NAME',
    help: "SNI and certificate name for TLS upstreams (default: the upstream's host).",
  }),
  listenProtocol: setting(oneOf(['http1', 'h2c']), {
    flag: 'listen-protocol',
    env: 'AMBASSADOR_LISTEN_PROTOCOL',
    default: 'http1',
    help: 'Simple form, plain listener: http1, or h2c (HTTP/2 with prior knowledge, as gRPC clients in a pod use). TLS listeners offer h2 and http/1.1 by ALPN.',
  }),
  upstreamProtocol: setting(oneOf(['http1', 'h2', 'h2c']), {
    flag: 'upstream-protocol',
    env: 'AMBASSADOR_UPSTREAM_PROTOCOL',
    default: 'http1',
    help: 'HTTP version to upstreams: http1, h2 (HTTP/2 over TLS, https://) or h2c (cleartext HTTP/2, for gRPC servers).',
  }),
  resolveInterval: setting(duration({ min: 1000 }), {
    flag: 'resolve-interval',
    env: 'AMBASSADOR_RESOLVE_INTERVAL',
    default: '5s',
    help: 'Host-name upstreams are resolved (A and AAAA) again this often, sooner if their TTL says so; every address is an upstream.',
  }),
  hostHeader: setting(oneOf(['keep', 'upstream']), {
    flag: 'host-header',
    env: 'AMBASSADOR_HOST_HEADER',
    default: 'keep',
    help: "Host header sent upstream: the client's (keep) or the upstream's own (upstream, for remote services).",
  }),
  httpEngine: setting(text('<engine>'), {
    flag: 'http-engine',
    env: 'AMBASSADOR_HTTP_ENGINE',
    help: 'Deprecated and ignored (one HTTP engine now); accepted with a warning until 0.3.0.',
  }),
  requestId: setting(bool(), {
    flag: 'request-id',
    env: 'AMBASSADOR_REQUEST_ID',
    default: 'true',
    help: 'Give each request without an X-Request-Id one (a UUID), pass it upstream and log it.',
  }),
  trustForwarded: setting(bool(), {
    flag: 'trust-forwarded',
    env: 'AMBASSADOR_TRUST_FORWARDED',
    default: 'false',
    help: 'Keep incoming X-Forwarded-* headers (append to X-Forwarded-For); by default they are replaced.',
  }),
  accessLog: setting(bool(), {
    flag: 'access-log',
    env: 'AMBASSADOR_ACCESS_LOG',
    default: 'true',
    help: 'One JSON line per request or TCP connection on stdout.',
  }),
  readyWhen: setting(oneOf(['listening', 'upstream']), {
    flag: 'ready-when',
    env: 'AMBASSADOR_READY_WHEN',
    default: 'listening',
    help: '/readyz is 200 once listening with a valid config (listening: outbound), or only while every pool has an upstream passing its active health check (upstream: inbound, so the pod leaves its Service while its app is down).',
  }),
  drainDelay: setting(duration(), {
    flag: 'drain-delay',
    env: 'AMBASSADOR_DRAIN_DELAY',
    default: '3s',
    help: 'On SIGTERM, /readyz turns 503 and listeners keep serving this long before they close.',
  }),
  ...commonSettings('AMBASSADOR'),
};

export type AmbassadorSettings = Settings<typeof settings> & { shutdownTimeout: number };

/** Pool defaults from the settings; the file's pools override field by field. */
export function poolDefaults(
  s: AmbassadorSettings,
  readFile: (p: string) => string,
): Omit<PoolConfig, 'name' | 'upstreams'> {
  const tls: TlsOptions = {
    ca:
      s.caFile === undefined
        ? undefined
        : readSettingFile(readFile, s.caFile, '--ca-file / AMBASSADOR_CA_FILE'),
    cert:
      s.certFile === undefined
        ? undefined
        : readSettingFile(readFile, s.certFile, '--cert-file / AMBASSADOR_CERT_FILE'),
    key:
      s.keyFile === undefined
        ? undefined
        : readSettingFile(readFile, s.keyFile, '--key-file / AMBASSADOR_KEY_FILE'),
    serverName: s.serverName,
    insecure: false,
  };
  if ((tls.cert === undefined) !== (tls.key === undefined))
    throw new SettingError(
      '--cert-file / AMBASSADOR_CERT_FILE and --key-file / AMBASSADOR_KEY_FILE go together',
    );
  for (const [text, kind, where, file] of [
    [tls.ca, 'certificate', '--ca-file / AMBASSADOR_CA_FILE', s.caFile],
    [tls.cert, 'certificate', '--cert-file / AMBASSADOR_CERT_FILE', s.certFile],
    [tls.key, 'key', '--key-file / AMBASSADOR_KEY_FILE', s.keyFile],
  ] as const) {
    const problem = text === undefined ? undefined : pemProblem(kind, text);
    if (problem) throw new SettingError(`invalid setting ${where}: ${file} ${problem}`);
  }
  if (tls.cert !== undefined && tls.key !== undefined) {
    const problem = keyPairProblem(tls.cert, tls.key);
    if (problem) throw new SettingError(`invalid setting --key-file / AMBASSADOR_KEY_FILE: ${problem}`);
  }
  const hc = s.healthCheckPath;
  if (hc !== undefined && hc !== 'tcp' && hc !== 'grpc' && !hc.startsWith('/'))
    throw new SettingError(
      `invalid setting --health-check / AMBASSADOR_HEALTH_CHECK: ${JSON.stringify(hc)} is not a path starting with /, "tcp" or "grpc"`,
    );
  return {
    balance: s.balance,
    healthCheck:
      hc === undefined
        ? undefined
        : {
            type: hc === 'tcp' ? 'tcp' : hc === 'grpc' ? 'grpc' : 'http',
            path: hc === 'tcp' || hc === 'grpc' ? '/' : hc,
            interval: s.healthCheckInterval,
            timeout: s.healthCheckTimeout,
            rise: s.rise,
            fall: s.fall,
          },
    ejection: { consecutiveFailures: s.ejectAfter, baseTime: s.ejectTime, maxTime: s.ejectTime * 10 },
    tls,
    connectTimeout: s.connectTimeout,
    readTimeout: s.readTimeout,
    idleTimeout: s.idleTimeout,
    retries: s.retries,
    retryBudget: s.retryBudget / 100,
    hostHeader: s.hostHeader,
    resolveInterval: s.resolveInterval,
    protocol: s.upstreamProtocol,
  };
}

function readSettingFile(readFile: (p: string) => string, file: string, where: string): string {
  try {
    return readFile(file);
  } catch (err) {
    throw new SettingError(`invalid setting ${where}: cannot read ${file}: ${(err as Error).message}`);
  }
}

/** The simple form: one listener (HTTP or TCP by the upstreams' scheme) and one pool named `default`. */
export function simpleConfig(s: AmbassadorSettings, readFile: (p: string) => string): ProxyConfig {
  const upstreams = s.upstreams ?? [];
  if (upstreams.length === 0)
    throw new SettingError(
      'missing setting --upstreams / AMBASSADOR_UPSTREAMS (e.g. http://127.0.0.1:8080) or --config / AMBASSADOR_CONFIG',
    );
  for (const u of upstreams) {
    const problem = upstreamUrlProblem(u);
    if (problem)
      throw new SettingError(
        `invalid setting --upstreams / AMBASSADOR_UPSTREAMS: ${JSON.stringify(u)} ${problem}`,
      );
  }
  const schemes = new Set(upstreams.map((u) => (/^(tcp|tls):/.test(u) ? 'tcp' : 'http')));
  if (schemes.size > 1)
    throw new SettingError(
      `invalid setting --upstreams / AMBASSADOR_UPSTREAMS: mixes http(s):// and tcp:// / tls:// upstreams; use one kind`,
    );
  const protocol = schemes.has('tcp') ? 'tcp' : 'http';
  if ((s.tlsCertFile === undefined) !== (s.tlsKeyFile === undefined))
    throw new SettingError(
      '--tls-cert-file / AMBASSADOR_TLS_CERT_FILE and --tls-key-file / AMBASSADOR_TLS_KEY_FILE go together',
    );
  const tls: ListenerTlsConfig | undefined =
    s.tlsCertFile === undefined
      ? undefined
      : {
          certificates: [{ certFile: s.tlsCertFile, keyFile: s.tlsKeyFile! }],
          clientCaFile: s.tlsClientCaFile,
        };
  if (tls) {
    try {
      loadCertificates(tls, readFile);
    } catch (err) {
      if (err instanceof TlsLoadError)
        throw new SettingError(`invalid setting --tls-cert-file / AMBASSADOR_TLS_CERT_FILE: ${err.message}`);
      throw err;
    }
  } else if (s.tlsClientCaFile !== undefined || s.httpRedirectPort !== undefined)
    throw new SettingError(
      `${s.tlsClientCaFile !== undefined ? '--tls-client-ca-file / AMBASSADOR_TLS_CLIENT_CA_FILE' : '--http-redirect-port / AMBASSADOR_HTTP_REDIRECT_PORT'} needs --tls-cert-file and --tls-key-file`,
    );
  const pool: PoolConfig = {
    name: 'default',
    ...poolDefaults(s, readFile),
    upstreams: upstreams.map((url) => ({ url, weight: 1, maxInFlight: s.maxInFlight })),
  };
  const listeners: ListenerConfig[] = [
    {
      name: 'default',
      host: s.host,
      port: s.listen,
      protocol,
      ...(tls ? { tls } : {}),
      ...(s.proxyProtocol ? { proxyProtocol: true } : {}),
      ...(s.listenProtocol === 'h2c' && !tls && protocol === 'http' ? { h2c: true } : {}),
      routes: protocol === 'http' ? [{ pathPrefix: '/', pool: 'default' }] : [],
      pool: protocol === 'tcp' ? 'default' : undefined,
    },
  ];
  if (s.httpRedirectPort !== undefined)
    listeners.push({
      name: 'redirect',
      host: s.host,
      port: s.httpRedirectPort,
      protocol: 'http',
      routes: [],
      redirectToHttps: 443,
    });
  return {
    listeners,
    pools: new Map([['default', pool]]),
    trustForwarded: s.trustForwarded,
    requestId: s.requestId,
  };
}
