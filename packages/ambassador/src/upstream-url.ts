// What an upstream URL may be: scheme://host[:port] and nothing else. A path or credentials in it
// were silently dropped before; now they are refused at start, with what to do instead.
const SCHEMES = ['http:', 'https:', 'tcp:', 'tls:'];

/** Undefined when the URL is a usable upstream, else why not (one phrase, for a one-line error). */
export function upstreamUrlProblem(raw: string): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'is not a URL like http://host:port, https://, tcp:// or tls://';
  }
  if (!SCHEMES.includes(u.protocol) || u.hostname === '')
    return 'is not a URL like http://host:port, https://, tcp:// or tls://';
  if (u.username || u.password)
    return 'carries credentials, which would never be sent; give scheme://host:port (credentials are not supported in upstream URLs)';
  if ((u.pathname !== '' && u.pathname !== '/') || u.search || u.hash)
    return `has a path or query (${u.pathname}${u.search}${u.hash}); an upstream is scheme://host:port — use a route's rewritePrefix for paths`;
  return undefined;
}
