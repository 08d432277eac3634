// Inbound TLS: the certificates a listener serves, chosen by SNI, and their reload. Files come from
// a `kubernetes.io/tls` Secret volume (or cert-manager, which renews in place); a Secret update
// swaps the folder's `..data` symlink, so the folders are watched and polled, the files re-read,
// and a good new set replaces the old one for new handshakes only — open connections keep theirs.
// A bad set (unreadable, not PEM, a key that is not its certificate's) is refused and the old one
// kept, in the log and in ambassador_tls_reloads_total{result="rejected"}.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  createSecureContext,
  type SecureContext,
  type SecureContextOptions,
  type TlsOptions,
} from 'node:tls';
import { keyPairProblem, pemProblem } from './tls.ts';
import type { ListenerTlsConfig } from './types.ts';

/**
 * Mozilla's "intermediate" TLS 1.2 suites (forward secrecy, AEAD only); TLS 1.3 suites are Node's
 * own. Clients older than TLS 1.2 are refused.
 */
export const SERVER_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface LoadedCertificate {
  /** The certificate's subject CN, or its first name: the label in metrics and logs. */
  readonly name: string;
  /** DNS names it serves (subjectAltName, or the CN without one), lower case; `*.x` wildcards. */
  readonly names: readonly string[];
  /** Expiry, seconds since the epoch. */
  readonly notAfter: number;
  readonly context: SecureContext;
  readonly options: SecureContextOptions;
}

export class TlsLoadError extends Error {
  override name = 'TlsLoadError';
}

function readText(file: string, read: (p: string) => string): string {
  try {
    return read(file);
  } catch (err) {
    throw new TlsLoadError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/** Reads and checks every certificate of a listener; throws TlsLoadError naming the file. */
export function loadCertificates(
  tls: ListenerTlsConfig,
  read: (p: string) => string = (p) => readFileSync(p, 'utf8'),
): { certificates: LoadedCertificate[]; clientCa?: string; fingerprint: string } {
  const clientCa = tls.clientCaFile === undefined ? undefined : readText(tls.clientCaFile, read);
  if (clientCa !== undefined) {
    const problem = pemProblem('certificate', clientCa);
    if (problem) throw new TlsLoadError(`${tls.clientCaFile} ${problem}`);
  }
  let fingerprint = clientCa ?? '';
  const certificates = tls.certificates.map(({ certFile, keyFile }) => {
    const cert = readText(certFile, read);
    const key = readText(keyFile, read);
    fingerprint += cert + key;
    const problem = pemProblem('certificate', cert) ?? pemProblem('key', key);
    if (problem) throw new TlsLoadError(`${pemProblem('certificate', cert) ? certFile : keyFile} ${problem}`);
    const pair = keyPairProblem(cert, key);
    if (pair) throw new TlsLoadError(`${keyFile}: ${pair}`);
    const x509 = new X509Certificate(cert);
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject)?.[1];
    const dns = (x509.subjectAltName ?? '')
      .split(', ')
      .filter((s) => s.startsWith('DNS:'))
      .map((s) => s.slice(4).toLowerCase());
    const names = dns.length > 0 ? dns : cn ? [cn.toLowerCase()] : [];
    const options: SecureContextOptions = {
      cert,
      key,
      ca: clientCa,
      minVersion: 'TLSv1.2',
      ciphers: SERVER_CIPHERS,
      honorCipherOrder: true,
    };
    return {
      name: cn ?? names[0] ?? certFile,
      names,
      notAfter: Math.floor(new Date(x509.validTo).getTime() / 1000),
      context: createSecureContext(options),
      options,
    };
  });
  return { certificates, clientCa, fingerprint };
}

/** Picks the certificate for an SNI name: exact name, then a one-label wildcard, else the first. */
export function chooseCertificate(
  certificates: readonly LoadedCertificate[],
  servername: string | undefined,
): LoadedCertificate {
  if (servername) {
    const name = servername.toLowerCase();
    for (const c of certificates) if (c.names.includes(name)) return c;
    const dot = name.indexOf('.');
    if (dot > 0) {
      const wildcard = `*${name.slice(dot)}`;
      for (const c of certificates) if (c.names.includes(wildcard)) return c;
    }
  }
  return certificates[0]!;
}

/** What tls.createServer / https.createServer take for a listener, with SNI served from `current()`. */
export function serverTlsOptions(
  tls: ListenerTlsConfig,
  current: () => readonly LoadedCertificate[],
  alpn: string[],
): TlsOptions {
  const first = current()[0]!;
  return {
    ...first.options,
    requestCert: tls.clientCaFile !== undefined,
    rejectUnauthorized: tls.clientCaFile !== undefined,
    ALPNProtocols: alpn,
    SNICallback: (servername, cb) => cb(null, chooseCertificate(current(), servername).context),
  };
}

export type TlsReloadResult = 'applied' | 'unchanged' | 'rejected';

/** One TLS listener's certificates: what new handshakes get, swapped whole on reload. */
export class TlsTerminator {
  readonly config: ListenerTlsConfig;
  #certificates: LoadedCertificate[];
  #fingerprint: string;
  #server: { setSecureContext(options: SecureContextOptions): void } | undefined;
  readonly #read: (p: string) => string;

  constructor(config: ListenerTlsConfig, read: (p: string) => string = (p) => readFileSync(p, 'utf8')) {
    this.config = config;
    this.#read = read;
    const loaded = loadCertificates(config, read);
    this.#certificates = loaded.certificates;
    this.#fingerprint = loaded.fingerprint;
  }

  get certificates(): readonly LoadedCertificate[] {
    return this.#certificates;
  }

  /** Options for the server this terminator serves; `alpn` in order of preference. */
  serverOptions(alpn: string[]): TlsOptions {
    return serverTlsOptions(this.config, () => this.#certificates, alpn);
  }

  /** The server whose default context (no SNI) follows reloads. */
  attach(server: { setSecureContext(options: SecureContextOptions): void }): void {
    this.#server = server;
  }

  /** Every file the certificates come from: their folders are what a Secret update changes. */
  files(): string[] {
    const out = this.config.certificates.flatMap((c) => [c.certFile, c.keyFile]);
    if (this.config.clientCaFile) out.push(this.config.clientCaFile);
    return out;
  }

  /** Re-reads the files; a good, changed set replaces the old one for new handshakes. */
  reload(): { result: TlsReloadResult; error?: string } {
    let loaded: ReturnType<typeof loadCertificates>;
    try {
      loaded = loadCertificates(this.config, this.#read);
    } catch (err) {
      if (err instanceof TlsLoadError) return { result: 'rejected', error: err.message };
      throw err;
    }
    if (loaded.fingerprint === this.#fingerprint) return { result: 'unchanged' };
    this.#certificates = loaded.certificates;
    this.#fingerprint = loaded.fingerprint;
    this.#server?.setSecureContext(loaded.certificates[0]!.options);
    return { result: 'applied' };
  }
}
