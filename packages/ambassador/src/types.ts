// The proxy's whole configuration as one frozen value: what the env (simple form) or the YAML file
// (full form) turn into, and what a reload swaps atomically.
import type { AccessConfig } from './http/access-control.ts';
import type { CredentialsConfig } from './http/credentials.ts';
import type { HeaderPolicy } from './http/header-policy.ts';
import type { RateLimitConfig } from './http/rate-limit.ts';

export type Balance = 'round-robin' | 'least-requests';

export interface TlsOptions {
  /** PEM CA bundle (contents) to trust instead of the system's. */
  readonly ca?: string;
  /** PEM client certificate and key (contents) for mutual TLS. */
  readonly cert?: string;
  readonly key?: string;
  /** SNI and certificate name to check; defaults to the upstream's host. */
  readonly serverName?: string;
  /** Skip certificate verification (testing only). */
  readonly insecure: boolean;
}

export interface UpstreamConfig {
  /** http://host:port, https://host:port, tcp://host:port or tls://host:port */
  readonly url: string;
  readonly weight: number;
  /** 0 = unlimited */
  readonly maxInFlight: number;
}

export interface HealthCheckConfig {
  /** `http` GETs `path` and wants 2xx/3xx; `tcp` only connects; `grpc` asks grpc.health.v1. */
  readonly type: 'http' | 'tcp' | 'grpc';
  readonly path: string;
  /** `grpc`: the service to ask about ('' = the server as a whole). */
  readonly service?: string;
  readonly interval: number;
  readonly timeout: number;
  /** Consecutive successes that bring an upstream back up. */
  readonly rise: number;
  /** Consecutive failures that take it down. */
  readonly fall: number;
}

export interface EjectionConfig {
  /** Consecutive failed requests (connect error, timeout, 502/503/504) that eject an upstream; 0 = never. */
  readonly consecutiveFailures: number;
  /** First ejection lasts this long, each next one twice as long, up to maxTime. */
  readonly baseTime: number;
  readonly maxTime: number;
}

export interface PoolConfig {
  readonly name: string;
  readonly balance: Balance;
  readonly upstreams: readonly UpstreamConfig[];
  readonly healthCheck?: HealthCheckConfig;
  readonly ejection: EjectionConfig;
  readonly tls: TlsOptions;
  readonly connectTimeout: number;
  /** Longest wait for the next bytes of the response (headers or body). */
  readonly readTimeout: number;
  /** Idle keep-alive sockets to upstreams close after this; keep it below the upstream's own. */
  readonly idleTimeout: number;
  /** Extra attempts for idempotent requests that failed before any byte reached the client. */
  readonly retries: number;
  /** Retries may add at most this fraction of requests (0.2 = 20%). */
  readonly retryBudget: number;
  /** Host header sent upstream: the client's (`keep`, for a pod's own app) or the upstream's own (`upstream`, for remote services). */
  readonly hostHeader: 'keep' | 'upstream';
  /** Host-name upstreams are resolved again this often (sooner when the records' TTL is shorter). */
  readonly resolveInterval: number;
  /** Headers set, added or removed on requests to this pool and on its responses. */
  readonly headers?: HeaderPolicy;
  /** A credential added to every request to this pool (outbound), from Secret files. */
  readonly credentials?: CredentialsConfig;
  /** TCP pools: send a PROXY protocol header with the client's address on each connection. */
  readonly proxyProtocol?: 'v1' | 'v2';
  /** HTTP version to upstreams: HTTP/1.1, HTTP/2 over TLS (h2), HTTP/2 cleartext (h2c). */
  readonly protocol: 'http1' | 'h2' | 'h2c';
}

export interface RouteConfig {
  /** Host header to match (without port); `*.example.com` matches subdomains; undefined = any. */
  readonly host?: string;
  readonly pathPrefix: string;
  /** Replaces pathPrefix in the upstream request's path. */
  readonly rewritePrefix?: string;
  readonly pool: string;
  /** Headers set, added or removed on this route's requests and responses (after the pool's). */
  readonly headers?: HeaderPolicy;
  /** Who may use this route (after the listener's own check). */
  readonly access?: AccessConfig;
  readonly rateLimit?: RateLimitConfig;
}

/** Inbound TLS of a listener: file paths, re-read when they change. */
export interface ListenerTlsConfig {
  /** The first is served to clients that send no SNI name or one no certificate carries. */
  readonly certificates: readonly { readonly certFile: string; readonly keyFile: string }[];
  /** PEM CA bundle: clients must present a certificate it signed (mutual TLS). */
  readonly clientCaFile?: string;
}

export interface ListenerConfig {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly protocol: 'http' | 'tcp';
  /** Terminate TLS on this listener. */
  readonly tls?: ListenerTlsConfig;
  /** HTTP only: answer every request with a 308 to https:// on this port instead of proxying. */
  readonly redirectToHttps?: number;
  /** HTTP: who may use this listener at all (allowlist, basic auth or JWT). */
  readonly access?: AccessConfig;
  /** HTTP: requests per second over the whole listener (or per client). */
  readonly rateLimit?: RateLimitConfig;
  /** Every connection starts with a PROXY protocol header (v1 or v2) naming the real client. */
  readonly proxyProtocol?: boolean;
  /** HTTP/2 in cleartext with prior knowledge (`protocol: h2c` in the file): HTTP/2 only. */
  readonly h2c?: boolean;
  /** TLS listeners offer h2 by ALPN unless this is false. */
  readonly http2?: boolean;
  /** HTTP: first match wins. */
  readonly routes: readonly RouteConfig[];
  /** TCP: the pool every connection goes to. */
  readonly pool?: string;
}

export interface ProxyConfig {
  readonly listeners: readonly ListenerConfig[];
  readonly pools: ReadonlyMap<string, PoolConfig>;
  /** Keep incoming X-Forwarded-* (append to X-Forwarded-For) instead of replacing them. */
  readonly trustForwarded: boolean;
  /** Give requests without an X-Request-Id one (passed upstream and logged). */
  readonly requestId: boolean;
}
