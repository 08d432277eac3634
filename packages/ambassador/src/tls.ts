// TLS options towards an upstream (https:// or tls://): CA bundle, SNI, optional client certificate.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { type ConnectionOptions, checkServerIdentity, createSecureContext } from 'node:tls';
import type { Upstream } from './pool.ts';
import type { TlsOptions } from './types.ts';

/** SNI and verification are for the configured name, also when connecting to a resolved address. */
export function tlsConnectOptions(u: Upstream, tls: TlsOptions): ConnectionOptions {
  const name = tls.serverName ?? (isIP(u.host) ? undefined : u.host);
  return {
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    servername: name,
    rejectUnauthorized: !tls.insecure,
    // An explicit name is what the certificate must carry, even when the upstream is an IP address.
    ...(name !== undefined
      ? { checkServerIdentity: (_host: string, cert) => checkServerIdentity(name, cert) }
      : {}),
  };
}

/**
 * Undefined when the text is usable PEM of that kind, else why not. A file that is not PEM (say
 * /etc/passwd as the CA bundle) used to be taken silently: Node ignores what it cannot parse.
 */
export function pemProblem(kind: 'certificate' | 'key', text: string): string | undefined {
  if (kind === 'key') {
    try {
      createPrivateKey(text);
      return undefined;
    } catch {
      return 'holds no PEM private key';
    }
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)';
  for (const [i, b] of blocks.entries()) {
    try {
      new X509Certificate(b);
    } catch {
      return `holds a certificate that cannot be parsed (number ${i + 1})`;
    }
  }
  return undefined;
}

/** Undefined when the key belongs to the certificate. */
export function keyPairProblem(cert: string, key: string): string | undefined {
  try {
    createSecureContext({ cert, key });
    return undefined;
  } catch (err) {
    return `the key does not match the certificate (${(err as Error).message})`;
  }
}
