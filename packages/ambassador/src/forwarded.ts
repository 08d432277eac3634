// Request and response header hygiene: hop-by-hop headers (RFC 9110 §7.6.1, plus any the
// Connection header names) are removed, and X-Forwarded-For/-Proto/-Host are set.
import type { IncomingHttpHeaders } from 'node:http';

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
];

/** Removes hop-by-hop headers in place. `keepUpgrade` keeps Connection/Upgrade for WebSocket. */
export function stripHopByHop(headers: IncomingHttpHeaders, keepUpgrade = false): void {
  const connection = headers.connection;
  if (connection) {
    for (const name of connection.toLowerCase().split(',')) {
      const n = name.trim();
      if (n && !(keepUpgrade && n === 'upgrade')) delete headers[n];
    }
  }
  for (const name of HOP_BY_HOP) {
    if (keepUpgrade && (name === 'connection' || name === 'upgrade')) continue;
    if (headers[name] !== undefined) delete headers[name];
  }
  if (keepUpgrade) headers.connection = 'upgrade';
}

/**
 * Sets X-Forwarded-For/-Proto/-Host. Untrusted incoming values are replaced (a client cannot
 * pretend to be someone else); trusted ones are kept and the client's address is appended.
 */
export function setForwarded(
  headers: IncomingHttpHeaders,
  clientAddress: string | undefined,
  proto: string,
  trust: boolean,
): void {
  const addr = clientAddress?.startsWith('::ffff:') ? clientAddress.slice(7) : (clientAddress ?? 'unknown');
  const prior = headers['x-forwarded-for'];
  headers['x-forwarded-for'] = trust && prior ? `${prior}, ${addr}` : addr;
  if (!trust || !headers['x-forwarded-proto']) headers['x-forwarded-proto'] = proto;
  if (!trust || !headers['x-forwarded-host']) {
    if (headers.host) headers['x-forwarded-host'] = headers.host;
    else delete headers['x-forwarded-host'];
  }
}
