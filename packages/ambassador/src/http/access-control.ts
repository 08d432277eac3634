// Who may pass a listener or a route: an IP allowlist (403), and optionally one kind of
// authentication — basic auth against an htpasswd file of bcrypt hashes, or a JWT bearer token
// verified against a JWKS file (401 with WWW-Authenticate). Files come from Secret volumes and are
// re-read when they change. The identity that passed goes upstream in a header the client cannot
// forge (any it sent is removed).
import { createHash } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import bcrypt from 'bcryptjs';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { WatchedFile } from '../watched-file.ts';

export interface AccessConfig {
  /** Addresses and CIDR ranges allowed; undefined: everybody. */
  readonly allow?: readonly string[];
  readonly basic?: { readonly htpasswdFile: string; readonly realm: string };
  readonly jwt?: {
    readonly jwksFile: string;
    readonly issuer?: string;
    readonly audience?: string;
  };
}

export type Verdict =
  | { readonly ok: true /** The authenticated user or subject, sent upstream. */; readonly identity?: string }
  | {
      readonly ok: false;
      readonly status: 401 | 403 | 429;
      readonly text: string;
      readonly headers?: Record<string, string>;
      /** For ambassador_access_denied_total{reason}. */
      readonly reason: 'not_allowed' | 'no_credentials' | 'bad_credentials' | 'busy';
    };

/** The header carrying who passed authentication; removed from what clients send. */
export const IDENTITY_HEADER = 'x-authenticated-user';

/** Parses `10.0.0.0/8`, `192.168.1.5`, `fd00::/8`; throws naming the bad entry. */
export function blockListOf(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const [addr = '', prefix] = e.split('/');
    const family = isIP(addr);
    if (family === 0) throw new Error(`"${e}" is not an address or a CIDR range`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(addr, type);
    else {
      const bits = Number(prefix);
      if (!/^\d+$/.test(prefix) || bits > (family === 4 ? 32 : 128))
        throw new Error(`"${e}": bad prefix length`);
      list.addSubnet(addr, bits, type);
    }
  }
  return list;
}

/** `user:$2y$…` lines; only bcrypt hashes (htpasswd -B), anything else is refused by line. */
export function parseHtpasswd(text: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (colon <= 0 || !/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash))
      throw new Error(
        `line ${i + 1}: not "user:<bcrypt hash>" (make it with htpasswd -B; MD5, SHA1 and crypt are refused)`,
      );
    users.set(user, hash);
  }
  return users;
}

/** At most this many bcrypt checks at once: each costs tens of milliseconds of CPU by design. */
const MAX_CHECKS = 4;
/** Verdicts on a credential pair are remembered this long, so bcrypt runs once per pair. */
const CACHE_MS = 60_000;
const CACHE_MAX = 1000;

export class AccessControl {
  readonly config: AccessConfig;
  readonly #allow: BlockList | undefined;
  readonly #htpasswd: WatchedFile<Map<string, string>> | undefined;
  readonly #jwks: WatchedFile<ReturnType<typeof createLocalJWKSet>> | undefined;
  readonly #cache = new Map<string, { user: string | undefined; until: number }>();
  readonly #now: () => number;
  #checking = 0;

  constructor(
    config: AccessConfig,
    opts: { now?: () => number; onFileError?: (file: string, err: Error) => void } = {},
  ) {
    this.config = config;
    this.#now = opts.now ?? Date.now;
    this.#allow = config.allow ? blockListOf(config.allow) : undefined;
    const onError = (file: string) => (err: Error) => opts.onFileError?.(file, err);
    if (config.basic)
      this.#htpasswd = new WatchedFile(config.basic.htpasswdFile, parseHtpasswd, {
        onError: onError(config.basic.htpasswdFile),
      });
    if (config.jwt)
      this.#jwks = new WatchedFile(
        config.jwt.jwksFile,
        (text) => createLocalJWKSet(JSON.parse(text) as JSONWebKeySet),
        { onError: onError(config.jwt.jwksFile) },
      );
  }

  async check(clientIp: string, authorization: string | undefined): Promise<Verdict> {
    if (this.#allow && !this.#allow.check(clientIp, isIP(clientIp) === 6 ? 'ipv6' : 'ipv4'))
      return {
        ok: false,
        status: 403,
        text: `forbidden: ${clientIp} is not allowed here`,
        reason: 'not_allowed',
      };
    if (this.config.basic) return this.#basic(authorization);
    if (this.config.jwt) return this.#jwt(authorization);
    return { ok: true };
  }

  async #basic(authorization: string | undefined): Promise<Verdict> {
    const challenge = {
      'www-authenticate': `Basic realm="${this.config.basic!.realm.replace(/["\\]/g, '')}", charset="UTF-8"`,
    };
    const m = authorization ? /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization) : null;
    if (!m)
      return {
        ok: false,
        status: 401,
        text: 'unauthorized: credentials needed',
        headers: challenge,
        reason: 'no_credentials',
      };
    const pair = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = pair.indexOf(':');
    const user = pair.slice(0, colon);
    const hash = colon > 0 ? this.#htpasswd!.value.get(user) : undefined;
    // Keyed by the pair and the user's current hash: a changed or removed user is checked again.
    const key = createHash('sha256')
      .update(`${pair}\0${hash ?? ''}`)
      .digest('base64');
    const now = this.#now();
    const cached = this.#cache.get(key);
    let ok: boolean;
    if (cached && cached.until > now) ok = cached.user !== undefined;
    else {
      if (hash === undefined) ok = false;
      else {
        if (this.#checking >= MAX_CHECKS)
          return {
            ok: false,
            status: 429,
            text: 'too many authentication attempts at once',
            headers: { 'retry-after': '1' },
            reason: 'busy',
          };
        this.#checking++;
        try {
          ok = await bcrypt.compare(pair.slice(colon + 1), hash);
        } finally {
          this.#checking--;
        }
      }
      if (this.#cache.size >= CACHE_MAX) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(key, { user: ok ? user : undefined, until: now + CACHE_MS });
    }
    if (!ok)
      return {
        ok: false,
        status: 401,
        text: 'unauthorized: wrong user or password',
        headers: challenge,
        reason: 'bad_credentials',
      };
    return { ok: true, identity: user };
  }

  async #jwt(authorization: string | undefined): Promise<Verdict> {
    const m = authorization ? /^bearer\s+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(authorization) : null;
    if (!m)
      return {
        ok: false,
        status: 401,
        text: 'unauthorized: a bearer token is needed',
        headers: { 'www-authenticate': 'Bearer' },
        reason: 'no_credentials',
      };
    try {
      const { payload } = await jwtVerify(m[1]!, this.#jwks!.value, {
        issuer: this.config.jwt!.issuer,
        audience: this.config.jwt!.audience,
      });
      return { ok: true, identity: typeof payload.sub === 'string' ? payload.sub : undefined };
    } catch (err) {
      const why =
        (err as { code?: string }).code === 'ERR_JWT_EXPIRED'
          ? 'the token has expired'
          : 'the token is not valid';
      return {
        ok: false,
        status: 401,
        text: `unauthorized: ${why}`,
        headers: { 'www-authenticate': `Bearer error="invalid_token", error_description="${why}"` },
        reason: 'bad_credentials',
      };
    }
  }
}
