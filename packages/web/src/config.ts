// web's settings: every one a flag and a WEB_* variable, parsed once into a frozen object.
import {
  bool,
  commonSettings,
  duration,
  host,
  int,
  oneOf,
  path,
  port,
  type Settings,
  setting,
  size,
  text,
} from '@multipod/service';

/**
 * Cache-Control max-age is no timer: its ceiling is RFC 9111's, 2^31 seconds (caches read anything
 * larger as that), expressed in whole hours.
 */
const MAX_AGE_LIMIT = { max: 596_523 * 3_600_000 };

export const webSettings = {
  port: setting(port(), {
    flag: 'port',
    env: 'WEB_PORT',
    default: '8080',
    help: 'Content port; also answers /healthz and /readyz.',
  }),
  host: setting(host(), {
    flag: 'host',
    env: 'WEB_HOST',
    default: '0.0.0.0',
    help: 'Address to listen on: an IP address or a host name of this machine (else exit 2).',
  }),
  root: setting(path(), {
    flag: 'root',
    env: 'WEB_ROOT',
    default: '/srv/www/current',
    help: 'Directory served; resolved on every request, so swapping a `current` symlink takes effect at once.',
  }),
  index: setting(text('<file>'), {
    flag: 'index',
    env: 'WEB_INDEX',
    default: 'index.html',
    help: 'File served for a directory URL ending in /.',
  }),
  spaFallback: setting(bool(), {
    flag: 'spa-fallback',
    env: 'WEB_SPA_FALLBACK',
    default: 'false',
    help: 'Serve /index.html for missing paths without a file extension (single-page apps).',
  }),
  notFoundPage: setting(text('<file>'), {
    flag: 'not-found-page',
    env: 'WEB_NOT_FOUND_PAGE',
    default: '404.html',
    help: 'Page at the root served with status 404 when a file is missing (plain text if absent); `off` to disable.',
  }),
  dotfiles: setting(oneOf(['deny', 'allow'] as const), {
    flag: 'dotfiles',
    env: 'WEB_DOTFILES',
    default: 'deny',
    help: 'Paths with a segment starting with "." answer 404 (deny) or are served (allow).',
  }),
  precompressed: setting(bool(), {
    flag: 'precompressed',
    env: 'WEB_PRECOMPRESSED',
    default: 'true',
    help: 'Serve a .br or .gz sibling when the client accepts that encoding (with Vary: Accept-Encoding).',
  }),
  maxAge: setting(duration(MAX_AGE_LIMIT), {
    flag: 'max-age',
    env: 'WEB_MAX_AGE',
    default: '0',
    help: 'Cache-Control max-age for files that are neither HTML nor fingerprinted; 0 means no-cache (revalidate).',
  }),
  immutableMaxAge: setting(duration(MAX_AGE_LIMIT), {
    flag: 'immutable-max-age',
    env: 'WEB_IMMUTABLE_MAX_AGE',
    default: '8760h',
    help: 'max-age for fingerprinted assets (name.3f9a1c.css), sent with `immutable`; 0 treats them like other files.',
  }),
  securityHeaders: setting(bool(), {
    flag: 'security-headers',
    env: 'WEB_SECURITY_HEADERS',
    default: 'true',
    help: 'Send X-Content-Type-Options: nosniff, X-Frame-Options: SAMEORIGIN and Referrer-Policy.',
  }),
  contentSecurityPolicy: setting(text('<policy>'), {
    flag: 'content-security-policy',
    env: 'WEB_CONTENT_SECURITY_POLICY',
    help: 'Content-Security-Policy header value sent with every response (unset: none).',
  }),
  cacheSize: setting(size(), {
    flag: 'cache-size',
    env: 'WEB_CACHE_SIZE',
    default: '64Mi',
    help: 'Memory for hot files (least recently used evicted); 0 disables the cache.',
  }),
  cacheMaxFile: setting(size(), {
    flag: 'cache-max-file',
    env: 'WEB_CACHE_MAX_FILE',
    default: '1Mi',
    help: 'Largest file kept in memory; larger ones are streamed from disk.',
  }),
  fastPath: setting(bool(), {
    flag: 'fast-path',
    env: 'WEB_FAST_PATH',
    default: 'true',
    help: 'Answer cached GET/HEAD hits before express (see README, Performance); false routes all through express.',
  }),
  maxPath: setting(int(16, 65536, '<bytes>'), {
    flag: 'max-path',
    env: 'WEB_MAX_PATH',
    default: '2048',
    help: 'Longest URL path accepted; longer ones answer 414.',
  }),
  accessLog: setting(text('<path|-|off>'), {
    flag: 'access-log',
    env: 'WEB_ACCESS_LOG',
    default: '-',
    help: 'Access log: a file path, `-` for stdout, or `off`.',
  }),
  accessLogProbes: setting(bool(), {
    flag: 'access-log-probes',
    env: 'WEB_ACCESS_LOG_PROBES',
    default: 'false',
    help: 'Also log GET/HEAD /healthz and /readyz (the kubelet’s probes); by default they are left out, so they are not counted as traffic.',
  }),
  accessLogFormat: setting(oneOf(['combined', 'json'] as const), {
    flag: 'access-log-format',
    env: 'WEB_ACCESS_LOG_FORMAT',
    default: 'combined',
    help: 'combined = nginx combined plus $request_time in seconds; json = one object per line.',
  }),
  accessLogMaxSize: setting(size(), {
    flag: 'access-log-max-size',
    env: 'WEB_ACCESS_LOG_MAX_SIZE',
    default: '10Mi',
    help: 'Rotate the access log file (rename to .1, .2 …) when it would pass this size; 0 never rotates.',
  }),
  accessLogKeep: setting(int(1, 100), {
    flag: 'access-log-keep',
    env: 'WEB_ACCESS_LOG_KEEP',
    default: '3',
    help: 'Rotated access log files kept (access.log.1 … access.log.N).',
  }),
  headersTimeout: setting(duration({ min: 100 }), {
    flag: 'headers-timeout',
    env: 'WEB_HEADERS_TIMEOUT',
    default: '10s',
    help: 'Time a client has to send the request headers.',
  }),
  requestTimeout: setting(duration({ min: 100 }), {
    flag: 'request-timeout',
    env: 'WEB_REQUEST_TIMEOUT',
    default: '30s',
    help: 'Time a client has to send the whole request.',
  }),
  idleTimeout: setting(duration({ min: 100 }), {
    flag: 'idle-timeout',
    env: 'WEB_IDLE_TIMEOUT',
    default: '60s',
    help: 'A connection with no progress for this long (e.g. a client that stops reading) is closed.',
  }),
  keepAliveTimeout: setting(duration({ min: 100 }), {
    flag: 'keep-alive-timeout',
    env: 'WEB_KEEP_ALIVE_TIMEOUT',
    default: '75s',
    help: 'Idle keep-alive connections are kept this long; longer than common proxy idle timeouts (60s).',
  }),
  ...commonSettings('WEB'),
};

export type WebConfig = Settings<typeof webSettings>;
