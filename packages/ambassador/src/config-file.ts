// The full form: a YAML file of listeners, routes and pools, validated with zod. Every error names
// the file, the line and the field (`ambassador.yaml:12 pools.api.upstreams[1].weight: ...`).
import { dirname, isAbsolute, resolve } from 'node:path';
import { formatDuration, MAX_TIMER_MS, parseDuration } from '@multipod/service';
import { type Document, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { type AccessConfig, AccessControl, blockListOf } from './http/access-control.ts';
import { type CredentialsConfig, OutboundCredentials } from './http/credentials.ts';
import { type HeaderOps, headerNameProblem, parseTemplate } from './http/header-policy.ts';
import type { RateLimitConfig } from './http/rate-limit.ts';
import { normaliseTarget } from './http/route-path.ts';
import { keyPairProblem, pemProblem } from './tls.ts';
import { loadCertificates, TlsLoadError } from './tls-terminate.ts';
import type {
  HealthCheckConfig,
  ListenerConfig,
  ListenerTlsConfig,
  PoolConfig,
  ProxyConfig,
  UpstreamConfig,
} from './types.ts';
import { upstreamUrlProblem } from './upstream-url.ts';

export class ConfigFileError extends Error {
  override name = 'ConfigFileError';
}

/** A duration, as a number of ms or `500ms` / `10s` / `2m`; no longer than a timer can wait. */
const durationField = z.union([z.number().int().min(0), z.string()]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v : parseDuration(v);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a duration like 500ms, 10s or 2m` });
    return z.NEVER;
  }
  if (ms > MAX_TIMER_MS) {
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(v)} is longer than ${formatDuration(MAX_TIMER_MS)}`,
    });
    return z.NEVER;
  }
  return ms;
});

const upstreamUrl = z.string().superRefine((s, ctx) => {
  const problem = upstreamUrlProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} ${problem}` });
});

// An upstream is a URL, or an object with the URL and its weight / limit.
const upstreamSchema = z.preprocess(
  (v) => (typeof v === 'string' ? { url: v } : v),
  z.strictObject({
    url: upstreamUrl,
    weight: z.number().int().min(1).max(1000).optional(),
    maxInFlight: z.number().int().min(0).optional(),
  }),
);

const healthCheckSchema = z.strictObject({
  type: z.enum(['http', 'tcp', 'grpc']).optional(),
  path: z.string().startsWith('/').optional(),
  service: z.string().optional(),
  interval: durationField.optional(),
  timeout: durationField.optional(),
  rise: z.number().int().min(1).max(100).optional(),
  fall: z.number().int().min(1).max(100).optional(),
});

const headerValue = z.string().transform((v, ctx) => {
  try {
    return parseTemplate(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});
const headerOpsSchema = z
  .strictObject({
    set: z.record(z.string(), headerValue).optional(),
    add: z.record(z.string(), headerValue).optional(),
    remove: z.array(z.string()).optional(),
  })
  .superRefine((o, ctx) => {
    // Checked here, not in the record's key schema, so the error names the header.
    for (const section of ['set', 'add'] as const)
      for (const name of Object.keys(o[section] ?? {})) {
        const problem = headerNameProblem(name);
        if (problem) ctx.addIssue({ code: 'custom', path: [section, name], message: problem });
      }
    for (const [i, name] of (o.remove ?? []).entries()) {
      const problem = headerNameProblem(name);
      if (problem) ctx.addIssue({ code: 'custom', path: ['remove', i], message: problem });
    }
  })
  .transform(
    (o): HeaderOps => ({
      set: Object.entries(o.set ?? {}),
      add: Object.entries(o.add ?? {}),
      remove: (o.remove ?? []).map((n) => n.toLowerCase()),
    }),
  );
/** `headers: { request: { set, add, remove }, response: { … } }` on a pool or a route. */
const headersSchema = z.strictObject({
  request: headerOpsSchema.optional(),
  response: headerOpsSchema.optional(),
});

const rateLimitSchema = z
  .strictObject({
    requestsPerSecond: z.number().positive().max(1_000_000),
    burst: z.number().int().min(1).max(10_000_000).optional(),
    perClient: z.boolean().optional(),
    maxClients: z.number().int().min(1).max(1_000_000).optional(),
  })
  .transform(
    (r): RateLimitConfig => ({
      requestsPerSecond: r.requestsPerSecond,
      burst: r.burst ?? Math.max(1, Math.ceil(r.requestsPerSecond)),
      perClient: r.perClient ?? false,
      maxClients: r.maxClients ?? 10_000,
    }),
  );

const accessFields = {
  allow: z
    .array(z.string())
    .min(1)
    .superRefine((list, ctx) => {
      try {
        blockListOf(list);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    })
    .optional(),
  auth: z
    .strictObject({
      basic: z
        .strictObject({ htpasswdFile: z.string().min(1), realm: z.string().min(1).optional() })
        .optional(),
      jwt: z
        .strictObject({
          jwksFile: z.string().min(1),
          issuer: z.string().min(1).optional(),
          audience: z.string().min(1).optional(),
        })
        .optional(),
    })
    .refine((a) => (a.basic === undefined) !== (a.jwt === undefined), 'give one of basic or jwt')
    .optional(),
  rateLimit: rateLimitSchema.optional(),
};

const credentialsSchema = z.union([
  z.strictObject({
    header: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'a header name'),
    file: z.string().min(1),
    prefix: z.string().optional(),
  }),
  z.strictObject({
    basic: z.strictObject({ usernameFile: z.string().min(1), passwordFile: z.string().min(1) }),
  }),
]);

const poolSchema = z.strictObject({
  balance: z.enum(['round-robin', 'least-requests']).optional(),
  hostHeader: z.enum(['keep', 'upstream']).optional(),
  upstreams: z.array(upstreamSchema).min(1),
  resolveInterval: durationField.optional(),
  headers: headersSchema.optional(),
  credentials: credentialsSchema.optional(),
  proxyProtocol: z.enum(['v1', 'v2']).optional(),
  protocol: z.enum(['http1', 'h2', 'h2c']).optional(),
  healthCheck: healthCheckSchema.optional(),
  ejection: z
    .strictObject({
      consecutiveFailures: z.number().int().min(0).optional(),
      baseTime: durationField.optional(),
      maxTime: durationField.optional(),
    })
    .optional(),
  tls: z
    .strictObject({
      caFile: z.string().min(1).optional(),
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
      serverName: z.string().min(1).optional(),
      insecure: z.boolean().optional(),
    })
    .optional(),
  timeouts: z
    .strictObject({
      connect: durationField.optional(),
      read: durationField.optional(),
      idle: durationField.optional(),
    })
    .optional(),
  retries: z
    .strictObject({
      attempts: z.number().int().min(0).max(10).optional(),
      budget: z.number().min(0).max(100).optional(),
    })
    .optional(),
});

/** Requests are matched on their normalised path, so a prefix must be one too or it never matches. */
const routePrefix = z
  .string()
  .startsWith('/')
  .refine((p) => !p.includes('?'), 'a path, without a query')
  .refine((p) => {
    const n = normaliseTarget(p);
    return n.ok && n.path === p;
  }, 'a normalised path: no "." or ".." segments, no backslash, no %-escapes of letters, digits or -._~, escapes upper-case');

const routeSchema = z.strictObject({
  host: z.string().min(1).optional(),
  pathPrefix: routePrefix.optional(),
  rewritePrefix: z.string().startsWith('/').optional(),
  pool: z.string().min(1),
  headers: headersSchema.optional(),
  ...accessFields,
});

const certificateSchema = z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1) });

const listenerTlsSchema = z
  .strictObject({
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    certificates: z.array(certificateSchema).min(1).optional(),
    clientCaFile: z.string().min(1).optional(),
  })
  .refine(
    (t) => (t.certificates === undefined) === (t.certFile !== undefined && t.keyFile !== undefined),
    'give certFile and keyFile, or certificates: [{ certFile, keyFile }, …] (several, chosen by SNI)',
  );

const listenerSchema = z.strictObject({
  name: z.string().regex(/^[a-zA-Z0-9_.-]+$/, 'letters, digits, _ . - only'),
  host: z.string().min(1).optional(),
  port: z.number().int().min(0).max(65535),
  protocol: z.enum(['http', 'h2c', 'tcp']).optional(),
  http2: z.boolean().optional(),
  routes: z.array(routeSchema).min(1).optional(),
  pool: z.string().min(1).optional(),
  tls: listenerTlsSchema.optional(),
  redirectToHttps: z.number().int().min(1).max(65535).optional(),
  proxyProtocol: z.boolean().optional(),
  ...accessFields,
});

const fileSchema = z.strictObject({
  trustForwarded: z.boolean().optional(),
  requestId: z.boolean().optional(),
  listeners: z.array(listenerSchema).min(1),
  pools: z.record(
    z.string().regex(/^[a-zA-Z0-9_.-]+$/, 'pool names: letters, digits, _ . - only'),
    poolSchema,
  ),
});

type FileShape = z.output<typeof fileSchema>;
type Path = readonly (string | number)[];

/** Where a path points in the document, as "line N"; falls back to the nearest existing parent. */
function lineOf(doc: Document, lines: LineCounter, path: Path): number {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return lines.linePos(node.range[0]).line;
  }
  return 1;
}

function fieldName(path: Path): string {
  return (
    path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '') ||
    '(top level)'
  );
}

export interface Defaults extends Omit<PoolConfig, 'name' | 'upstreams'> {
  readonly maxInFlight: number;
  readonly host: string;
  readonly trustForwarded: boolean;
  readonly requestId: boolean;
}

/**
 * Parses and validates the file's text; throws ConfigFileError listing every problem, one per line.
 * `readFile` reads TLS files named in the config (relative to the config file's folder).
 */
export function parseConfigFile(
  text: string,
  file: string,
  defaults: Defaults,
  readFile: (p: string) => string,
): ProxyConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigFileError(
      doc.errors
        .map(
          (e) =>
            `${file}:${e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line} YAML: ${e.message.split('\n')[0]}`,
        )
        .join('\n'),
    );
  }
  const problems: string[] = [];
  const at = (path: Path, message: string) =>
    problems.push(`${file}:${lineOf(doc, lines, path)} ${fieldName(path)}: ${message}`);

  const parsed = fileSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    for (const issue of parsed.error.issues) at(issue.path as Path, issue.message);
    throw new ConfigFileError(problems.join('\n'));
  }
  const raw: FileShape = parsed.data;
  /** Files named in the config are relative to the config file's folder. */
  const relative = (f: string) => (isAbsolute(f) ? f : resolve(dirname(file), f));

  /** A listener's or route's allowlist, authentication and rate limit; their files checked now. */
  const accessOf = (
    x: { allow?: string[]; auth?: FileShape['listeners'][number]['auth']; rateLimit?: RateLimitConfig },
    path: Path,
  ): { access?: AccessConfig; rateLimit?: RateLimitConfig } => {
    const out: { access?: AccessConfig; rateLimit?: RateLimitConfig } = {};
    if (x.rateLimit) out.rateLimit = x.rateLimit;
    if (x.allow || x.auth) {
      const access: AccessConfig = {
        ...(x.allow ? { allow: x.allow } : {}),
        ...(x.auth?.basic
          ? {
              basic: {
                htpasswdFile: relative(x.auth.basic.htpasswdFile),
                realm: x.auth.basic.realm ?? 'multipod',
              },
            }
          : {}),
        ...(x.auth?.jwt ? { jwt: { ...x.auth.jwt, jwksFile: relative(x.auth.jwt.jwksFile) } } : {}),
      };
      try {
        new AccessControl(access);
      } catch (err) {
        const e = err as NodeJS.ErrnoException & { path?: string };
        at([...path, 'auth'], `${access.basic?.htpasswdFile ?? access.jwt?.jwksFile}: ${e.message}`);
      }
      out.access = access;
    }
    return out;
  };

  const pools = new Map<string, PoolConfig>();
  for (const [name, p] of Object.entries(raw.pools)) {
    const base: Path = ['pools', name];
    const upstreams: UpstreamConfig[] = p.upstreams.map((u) => ({
      url: u.url,
      weight: u.weight ?? 1,
      maxInFlight: u.maxInFlight ?? defaults.maxInFlight,
    }));
    const kinds = new Set(upstreams.map((u) => (/^(tcp|tls):/.test(u.url) ? 'tcp' : 'http')));
    if (kinds.size > 1)
      at([...base, 'upstreams'], 'mixes http(s):// and tcp:// / tls:// upstreams; use one kind');
    const readTls = (field: 'caFile' | 'certFile' | 'keyFile'): string | undefined => {
      const f = p.tls?.[field];
      if (f === undefined) return undefined;
      const full = isAbsolute(f) ? f : resolve(dirname(file), f);
      let text: string;
      try {
        text = readFile(full);
      } catch (err) {
        at([...base, 'tls', field], `cannot read ${full}: ${(err as Error).message}`);
        return undefined;
      }
      const problem = pemProblem(field === 'keyFile' ? 'key' : 'certificate', text);
      if (problem) at([...base, 'tls', field], `${full} ${problem}`);
      return text;
    };
    const tls = p.tls
      ? {
          ca: readTls('caFile'),
          cert: readTls('certFile'),
          key: readTls('keyFile'),
          serverName: p.tls.serverName,
          insecure: p.tls.insecure ?? false,
        }
      : defaults.tls;
    if (p.tls && (p.tls.certFile === undefined) !== (p.tls.keyFile === undefined))
      at([...base, 'tls'], 'certFile and keyFile go together');
    else if (tls.cert !== undefined && tls.key !== undefined) {
      const problem = keyPairProblem(tls.cert, tls.key);
      if (problem) at([...base, 'tls', 'keyFile'], problem);
    }
    let credentials: CredentialsConfig | undefined;
    if (p.credentials) {
      credentials =
        'basic' in p.credentials
          ? {
              basic: {
                usernameFile: relative(p.credentials.basic.usernameFile),
                passwordFile: relative(p.credentials.basic.passwordFile),
              },
            }
          : {
              header: p.credentials.header,
              file: relative(p.credentials.file),
              prefix: p.credentials.prefix ?? '',
            };
      try {
        new OutboundCredentials(credentials);
      } catch (err) {
        at([...base, 'credentials'], (err as Error).message);
      }
      if (kinds.has('tcp')) at([...base, 'credentials'], 'credentials are for HTTP pools');
    }
    if (p.proxyProtocol && !kinds.has('tcp'))
      at(
        [...base, 'proxyProtocol'],
        'only for tcp:// / tls:// pools: HTTP connections to upstreams are shared by many clients',
      );
    let healthCheck: HealthCheckConfig | undefined = defaults.healthCheck;
    if (p.healthCheck) {
      const hc = p.healthCheck;
      const type = hc.type ?? (hc.path !== undefined ? 'http' : kinds.has('tcp') ? 'tcp' : 'http');
      if (type === 'grpc' && (p.protocol ?? defaults.protocol) === 'http1')
        at([...base, 'healthCheck', 'type'], 'a grpc check needs an HTTP/2 pool (protocol: h2 or h2c)');
      healthCheck = {
        type,
        ...(hc.service !== undefined ? { service: hc.service } : {}),
        path: hc.path ?? defaults.healthCheck?.path ?? '/',
        interval: hc.interval ?? defaults.healthCheck?.interval ?? 5000,
        timeout: hc.timeout ?? defaults.healthCheck?.timeout ?? 1000,
        rise: hc.rise ?? defaults.healthCheck?.rise ?? 2,
        fall: hc.fall ?? defaults.healthCheck?.fall ?? 3,
      };
      if (healthCheck.interval < 10) at([...base, 'healthCheck', 'interval'], 'must be at least 10ms');
    }
    const ejection = {
      consecutiveFailures: p.ejection?.consecutiveFailures ?? defaults.ejection.consecutiveFailures,
      baseTime: p.ejection?.baseTime ?? defaults.ejection.baseTime,
      maxTime: Math.min(
        MAX_TIMER_MS,
        p.ejection?.maxTime ?? Math.max(defaults.ejection.maxTime, p.ejection?.baseTime ?? 0),
      ),
    };
    pools.set(name, {
      name,
      balance: p.balance ?? defaults.balance,
      upstreams,
      healthCheck,
      ejection,
      tls,
      connectTimeout: p.timeouts?.connect ?? defaults.connectTimeout,
      readTimeout: p.timeouts?.read ?? defaults.readTimeout,
      idleTimeout: p.timeouts?.idle ?? defaults.idleTimeout,
      retries: p.retries?.attempts ?? defaults.retries,
      retryBudget: p.retries?.budget === undefined ? defaults.retryBudget : p.retries.budget / 100,
      hostHeader: p.hostHeader ?? defaults.hostHeader,
      resolveInterval: p.resolveInterval ?? defaults.resolveInterval,
      ...(p.headers ? { headers: p.headers } : {}),
      ...(credentials ? { credentials } : {}),
      ...(p.proxyProtocol ? { proxyProtocol: p.proxyProtocol } : {}),
      protocol: p.protocol ?? defaults.protocol,
    });
  }

  const isTcpPool = (name: string) =>
    pools.get(name)?.upstreams.some((u) => /^(tcp|tls):/.test(u.url)) ?? false;
  const listeners: ListenerConfig[] = [];
  const names = new Set<string>();
  const ports = new Set<string>();
  raw.listeners.forEach((l, i) => {
    const base: Path = ['listeners', i];
    const h2c = l.protocol === 'h2c';
    const protocol =
      l.protocol === 'h2c'
        ? 'http'
        : (l.protocol ??
          (l.pool !== undefined && l.routes === undefined && isTcpPool(l.pool) ? 'tcp' : 'http'));
    if (h2c && l.tls) at([...base, 'protocol'], 'h2c is cleartext HTTP/2; with tls, h2 is offered by ALPN');
    if (l.http2 !== undefined && !l.tls) at([...base, 'http2'], 'http2 is about what a TLS listener offers');
    if (names.has(l.name)) at([...base, 'name'], `listener name "${l.name}" is used twice`);
    names.add(l.name);
    const host = l.host ?? defaults.host;
    if (l.port !== 0 && ports.has(`${host}:${l.port}`)) at([...base, 'port'], `port ${l.port} is used twice`);
    ports.add(`${host}:${l.port}`);
    if (protocol === 'tcp') {
      if (l.routes) at([...base, 'routes'], 'a tcp listener has no routes; give it a pool');
      if (l.pool === undefined) at(base, 'a tcp listener needs a pool');
      else if (!pools.has(l.pool))
        at([...base, 'pool'], `no pool named "${l.pool}" (have: ${[...pools.keys()].join(', ')})`);
      else if (!isTcpPool(l.pool))
        at(
          [...base, 'pool'],
          `pool "${l.pool}" has http(s):// upstreams; a tcp listener needs tcp:// or tls://`,
        );
      if (l.redirectToHttps !== undefined)
        at([...base, 'redirectToHttps'], 'only an http listener redirects');
      for (const k of ['allow', 'auth', 'rateLimit'] as const)
        if (l[k] !== undefined)
          at([...base, k], 'for http listeners (a tcp listener has no requests to check)');
    } else if (l.redirectToHttps !== undefined) {
      if (l.routes !== undefined || l.pool !== undefined)
        at([...base, 'redirectToHttps'], 'a redirecting listener has no routes or pool');
      if (l.tls !== undefined)
        at([...base, 'redirectToHttps'], 'a redirecting listener is plain HTTP (no tls)');
    } else {
      if (l.pool !== undefined && l.routes !== undefined)
        at([...base, 'pool'], 'give either pool or routes, not both');
      const routes = l.routes ?? (l.pool !== undefined ? [{ pool: l.pool }] : undefined);
      if (!routes) at(base, 'an http listener needs routes (or a pool), or redirectToHttps');
      routes?.forEach((r, j) => {
        const where: Path = l.routes ? [...base, 'routes', j, 'pool'] : [...base, 'pool'];
        if (!pools.has(r.pool))
          at(where, `no pool named "${r.pool}" (have: ${[...pools.keys()].join(', ')})`);
        else if (isTcpPool(r.pool))
          at(where, `pool "${r.pool}" has tcp:// upstreams; an http route needs http(s)://`);
      });
    }
    let tls: ListenerTlsConfig | undefined;
    if (l.tls) {
      tls = {
        certificates: (l.tls.certificates ?? [{ certFile: l.tls.certFile!, keyFile: l.tls.keyFile! }]).map(
          (c) => ({
            certFile: relative(c.certFile),
            keyFile: relative(c.keyFile),
          }),
        ),
        clientCaFile: l.tls.clientCaFile === undefined ? undefined : relative(l.tls.clientCaFile),
      };
      try {
        loadCertificates(tls, readFile);
      } catch (err) {
        if (!(err instanceof TlsLoadError)) throw err;
        at([...base, 'tls'], err.message);
      }
    }
    listeners.push({
      name: l.name,
      host,
      port: l.port,
      protocol,
      ...(tls ? { tls } : {}),
      ...(l.redirectToHttps !== undefined ? { redirectToHttps: l.redirectToHttps } : {}),
      ...(l.proxyProtocol ? { proxyProtocol: true } : {}),
      ...(h2c ? { h2c: true } : {}),
      ...(l.http2 === false ? { http2: false } : {}),
      ...accessOf(l, base),
      routes:
        protocol === 'http'
          ? (l.routes ?? (l.pool !== undefined ? [{ pool: l.pool }] : [])).map((r, j) => ({
              host: 'host' in r ? r.host?.toLowerCase() : undefined,
              pathPrefix: ('pathPrefix' in r ? r.pathPrefix : undefined) ?? '/',
              rewritePrefix: 'rewritePrefix' in r ? r.rewritePrefix : undefined,
              pool: r.pool,
              ...('headers' in r && r.headers ? { headers: r.headers } : {}),
              ...(l.routes ? accessOf(r as (typeof l.routes)[number], [...base, 'routes', j]) : {}),
            }))
          : [],
      pool: protocol === 'tcp' ? l.pool : undefined,
    });
  });
  if (problems.length > 0) throw new ConfigFileError(problems.join('\n'));
  return {
    listeners,
    pools,
    trustForwarded: raw.trustForwarded ?? defaults.trustForwarded,
    requestId: raw.requestId ?? defaults.requestId,
  };
}
