// TLS options towards an upstream (https:// or tls://): CA bundle, SNI, optional client certificate.
import { isIP } from 'node:net';
import { type ConnectionOptions, checkServerIdentity } from 'node:tls';
import type { Upstream } from './pool.ts';
import type { TlsOptions } from './types.ts';

export function tlsConnectOptions(u: Upstream, tls: TlsOptions): ConnectionOptions {
  const name = tls.serverName ?? (isIP(u.host) ? undefined : u.host);
  return {
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    servername: name,
    rejectUnauthorized: !tls.insecure,
    // An explicit name is what the certificate must carry, even when the upstream is an IP address.
    ...(tls.serverName
      ? { checkServerIdentity: (_host: string, cert) => checkServerIdentity(name!, cert) }
      : {}),
  };
}
