// The ambassador's Prometheus metrics, on its own registry. Label children are cached so the hot
// path does one map lookup instead of hashing a label object per request.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Pool } from './pool.ts';

export class Metrics {
  readonly requests: Counter<'listener' | 'upstream' | 'code'>;
  readonly duration: Histogram<'listener' | 'upstream'>;
  readonly upstreamUp: Gauge<'pool' | 'upstream'>;
  readonly upstreamInFlight: Gauge<'pool' | 'upstream'>;
  readonly retries: Counter<'listener' | 'pool'>;
  readonly ejections: Counter<'pool' | 'upstream'>;
  readonly panics: Counter<'pool'>;
  readonly activeConnections: Gauge<'listener'>;
  readonly tcpConnections: Counter<'listener' | 'upstream' | 'result'>;
  readonly bytes: Counter<'listener' | 'direction'>;
  readonly reloads: Counter<'result'>;
  readonly configOk: Gauge;
  readonly rejected: Counter<'listener' | 'reason'>;
  readonly tlsHandshakeErrors: Counter<'listener'>;
  readonly resolutions: Counter<'pool' | 'result'>;
  readonly rateLimited: Counter<'listener' | 'route'>;
  readonly proxyProtocolErrors: Counter<'listener'>;
  readonly grpcRequests: Counter<'listener' | 'upstream' | 'grpc_status'>;
  /** Lines the access log dropped because stdout could not keep up. */
  accessLogDropped: () => number = () => 0;
  readonly accessDenied: Counter<'listener' | 'reason'>;
  readonly tlsReloads: Counter<'listener' | 'result'>;
  readonly certificateExpiry: Gauge<'listener' | 'certificate'>;
  /** Label children by listener and upstream, then by code: no label hashing per request. */
  readonly #children = new Map<
    string,
    Map<string, { codes: Map<number, { inc(): void }>; duration: { observe(v: number): void } }>
  >();

  constructor(registry: Registry, pools: () => Iterable<Pool>, now: () => number = Date.now) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'ambassador_requests_total',
      help: 'HTTP requests proxied, by listener, upstream (or "none") and status code.',
      labelNames: ['listener', 'upstream', 'code'],
      registers,
    });
    this.duration = new Histogram({
      name: 'ambassador_request_duration_seconds',
      help: 'Time from request to the end of the response, by listener and upstream.',
      labelNames: ['listener', 'upstream'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.upstreamUp = new Gauge({
      name: 'ambassador_upstream_up',
      help: '1 when the upstream is healthy and not ejected, else 0.',
      labelNames: ['pool', 'upstream'],
      registers,
      collect() {
        this.reset();
        const t = now();
        for (const pool of pools())
          for (const u of pool.upstreams) this.set({ pool: pool.name, upstream: u.name }, u.up(t) ? 1 : 0);
      },
    });
    // Read from the pools when scraped, as the balancer sees them: no bookkeeping on the hot path.
    this.upstreamInFlight = new Gauge({
      name: 'ambassador_upstream_in_flight',
      help: 'Requests (TCP: connections) under way to the upstream now.',
      labelNames: ['pool', 'upstream'],
      registers,
      collect() {
        this.reset();
        for (const pool of pools())
          for (const u of pool.upstreams) this.set({ pool: pool.name, upstream: u.name }, u.inFlight);
      },
    });
    this.retries = new Counter({
      name: 'ambassador_retries_total',
      help: 'Requests sent again to another upstream after a failure before any response byte.',
      labelNames: ['listener', 'pool'],
      registers,
    });
    this.ejections = new Counter({
      name: 'ambassador_ejections_total',
      help: 'Upstreams taken out of their pool after consecutive failures.',
      labelNames: ['pool', 'upstream'],
      registers,
    });
    this.panics = new Counter({
      name: 'ambassador_panic_requests_total',
      help: 'Requests sent to an ejected upstream because every healthy upstream of the pool was ejected (passive ejection never empties a pool).',
      labelNames: ['pool'],
      registers,
    });
    this.activeConnections = new Gauge({
      name: 'ambassador_active_connections',
      help: 'Client connections open now, by listener.',
      labelNames: ['listener'],
      registers,
    });
    this.tcpConnections = new Counter({
      name: 'ambassador_tcp_connections_total',
      help: 'TCP-mode connections, by listener, upstream and result (ok, error, refused).',
      labelNames: ['listener', 'upstream', 'result'],
      registers,
    });
    this.bytes = new Counter({
      name: 'ambassador_tcp_bytes_total',
      help: 'TCP-mode bytes forwarded, by listener and direction (upstream = client to upstream).',
      labelNames: ['listener', 'direction'],
      registers,
    });
    this.reloads = new Counter({
      name: 'ambassador_config_reloads_total',
      help: 'Config file reloads by result: applied, rejected (the old config stays), unchanged.',
      labelNames: ['result'],
      registers,
    });
    this.configOk = new Gauge({
      name: 'ambassador_config_last_reload_successful',
      help: '1 when the config file on disk is the one running, 0 when the last reload was rejected.',
      registers,
    });
    this.configOk.set(1);
    this.rejected = new Counter({
      name: 'ambassador_rejected_requests_total',
      help: 'Requests refused before any upstream: bad_request, open_proxy, no_route, no_upstream.',
      labelNames: ['listener', 'reason'],
      registers,
    });
    const dropped = () => this.accessLogDropped();
    new Counter({
      name: 'ambassador_access_log_dropped_lines_total',
      help: 'Access log lines dropped because stdout could not keep up (8 MiB waiting at most).',
      registers,
      collect() {
        this.reset();
        this.inc(dropped());
      },
    });
    this.grpcRequests = new Counter({
      name: 'ambassador_grpc_requests_total',
      help: 'gRPC calls by listener, upstream and the grpc-status they ended with (cancelled: the client went away).',
      labelNames: ['listener', 'upstream', 'grpc_status'],
      registers,
    });
    this.proxyProtocolErrors = new Counter({
      name: 'ambassador_proxy_protocol_errors_total',
      help: 'Connections closed because they did not start with a valid PROXY protocol header.',
      labelNames: ['listener'],
      registers,
    });
    this.rateLimited = new Counter({
      name: 'ambassador_rate_limited_total',
      help: 'Requests answered 429 by a rate limit, by listener and route ("" for the listener\'s own limit).',
      labelNames: ['listener', 'route'],
      registers,
    });
    this.accessDenied = new Counter({
      name: 'ambassador_access_denied_total',
      help: 'Requests refused by access control: not_allowed (403), no_credentials, bad_credentials (401), busy (429).',
      labelNames: ['listener', 'reason'],
      registers,
    });
    this.resolutions = new Counter({
      name: 'ambassador_dns_resolutions_total',
      help: 'Lookups of host-name upstreams by pool and result (ok, error: the last addresses are kept).',
      labelNames: ['pool', 'result'],
      registers,
    });
    this.tlsHandshakeErrors = new Counter({
      name: 'ambassador_tls_handshake_errors_total',
      help: 'TLS handshakes that failed on a listener (no shared protocol or cipher, a client certificate refused, a reset).',
      labelNames: ['listener'],
      registers,
    });
    this.tlsReloads = new Counter({
      name: 'ambassador_tls_reloads_total',
      help: 'Certificate reloads of a TLS listener by result: applied, rejected (the old certificates stay).',
      labelNames: ['listener', 'result'],
      registers,
    });
    const certificates = () => this.tlsCertificates();
    this.certificateExpiry = new Gauge({
      name: 'ambassador_tls_certificate_expiry_timestamp_seconds',
      help: 'When each certificate a TLS listener serves expires (Unix time): alert well before it.',
      labelNames: ['listener', 'certificate'],
      registers,
      collect() {
        this.reset();
        for (const c of certificates()) this.set({ listener: c.listener, certificate: c.name }, c.notAfter);
      },
    });
  }

  /** The TLS listeners' certificates, for the expiry gauge. */
  tlsCertificates: () => Iterable<{ listener: string; name: string; notAfter: number }> = () => [];

  request(listener: string, upstream: string, code: number, seconds: number): void {
    let byUpstream = this.#children.get(listener);
    if (!byUpstream) {
      byUpstream = new Map();
      this.#children.set(listener, byUpstream);
    }
    let c = byUpstream.get(upstream);
    if (!c) {
      c = { codes: new Map(), duration: this.duration.labels(listener, upstream) };
      byUpstream.set(upstream, c);
    }
    let counter = c.codes.get(code);
    if (!counter) {
      counter = this.requests.labels(listener, upstream, String(code));
      c.codes.set(code, counter);
    }
    counter.inc();
    c.duration.observe(seconds);
  }
}
