// The PROXY protocol (HAProxy's, v1 text and v2 binary): a load balancer in front of the pod
// prepends the real client's address to each connection, and a listener with `proxyProtocol: true`
// reads it before anything else, so X-Forwarded-For, allowlists and rate limits see the client,
// not the balancer. TCP pools can send it to upstreams that expect it (`proxyProtocol: v1|v2`).
import { isIP, type Server, type Socket } from 'node:net';

export interface ProxyAddresses {
  readonly family: 4 | 6;
  readonly source: string;
  readonly sourcePort: number;
  readonly destination: string;
  readonly destinationPort: number;
}

/** A parsed header: the addresses, or none (v1 UNKNOWN, v2 LOCAL: the balancer's own check). */
export type ParsedHeader = { readonly addresses?: ProxyAddresses; readonly length: number };

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** Longest header accepted: v1 is at most 107 bytes; v2 TLVs beyond this are not ours to read. */
const MAX_HEADER = 4096;

export class ProxyProtocolError extends Error {
  override name = 'ProxyProtocolError';
}

/** Parses a header at the start of `buf`; undefined: not enough bytes yet. Throws on garbage. */
export function parseProxyHeader(buf: Buffer): ParsedHeader | undefined {
  if (buf.length >= 12 && buf.subarray(0, 12).equals(V2_SIGNATURE)) return parseV2(buf);
  if (buf.length < 12 && V2_SIGNATURE.subarray(0, buf.length).equals(buf)) return undefined;
  const prefix = 'PROXY ';
  if (buf.length < prefix.length) {
    if (prefix.startsWith(buf.toString('latin1'))) return undefined;
    throw new ProxyProtocolError('no PROXY protocol header');
  }
  if (buf.toString('latin1', 0, prefix.length) !== prefix)
    throw new ProxyProtocolError('no PROXY protocol header');
  const end = buf.indexOf('\r\n');
  if (end === -1) {
    if (buf.length > 107) throw new ProxyProtocolError('PROXY v1 header longer than 107 bytes');
    return undefined;
  }
  const parts = buf.toString('latin1', 0, end).split(' ');
  if (parts[1] === 'UNKNOWN') return { length: end + 2 };
  const [, proto, source, destination, sport, dport] = parts;
  const family = proto === 'TCP4' ? 4 : proto === 'TCP6' ? 6 : 0;
  if (parts.length !== 6 || family === 0 || isIP(source!) !== family || isIP(destination!) !== family)
    throw new ProxyProtocolError('malformed PROXY v1 header');
  const ports = [sport, dport].map((p) => (/^\d{1,5}$/.test(p!) ? Number(p) : -1));
  if (ports.some((p) => p < 0 || p > 65535)) throw new ProxyProtocolError('malformed PROXY v1 header');
  return {
    length: end + 2,
    addresses: {
      family,
      source: source!,
      sourcePort: ports[0]!,
      destination: destination!,
      destinationPort: ports[1]!,
    },
  };
}

function parseV2(buf: Buffer): ParsedHeader | undefined {
  if (buf.length < 16) return undefined;
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) throw new ProxyProtocolError('PROXY v2: unknown version');
  const length = 16 + buf.readUInt16BE(14);
  if (length > MAX_HEADER) throw new ProxyProtocolError('PROXY v2 header too long');
  if (buf.length < length) return undefined;
  const command = verCmd & 0x0f;
  if (command === 0) return { length }; // LOCAL
  if (command !== 1) throw new ProxyProtocolError('PROXY v2: unknown command');
  const fam = buf[13]! >> 4;
  if (fam === 1 && length >= 16 + 12) {
    const ip = (o: number) => [...buf.subarray(o, o + 4)].join('.');
    return {
      length,
      addresses: {
        family: 4,
        source: ip(16),
        destination: ip(20),
        sourcePort: buf.readUInt16BE(24),
        destinationPort: buf.readUInt16BE(26),
      },
    };
  }
  if (fam === 2 && length >= 16 + 36) {
    const ip = (o: number) =>
      Array.from({ length: 8 }, (_, i) => buf.readUInt16BE(o + i * 2).toString(16)).join(':');
    return {
      length,
      addresses: {
        family: 6,
        source: compactV6(ip(16)),
        destination: compactV6(ip(32)),
        sourcePort: buf.readUInt16BE(48),
        destinationPort: buf.readUInt16BE(50),
      },
    };
  }
  return { length }; // UNSPEC or a socket family we do not use: addresses unknown
}

/** `0:0:0:0:0:0:0:1` → `::1`, as Node writes addresses. */
function compactV6(a: string): string {
  return new URL(`http://[${a}]/`).hostname.slice(1, -1);
}

export function encodeV1(a: ProxyAddresses): Buffer {
  return Buffer.from(
    `PROXY TCP${a.family} ${a.source} ${a.destination} ${a.sourcePort} ${a.destinationPort}\r\n`,
    'latin1',
  );
}

export function encodeV2(a: ProxyAddresses): Buffer {
  const v4 = a.family === 4;
  const body = Buffer.alloc(v4 ? 12 : 36);
  const put = (addr: string, at: number) => {
    if (v4) for (const [i, n] of addr.split('.').entries()) body.writeUInt8(Number(n), at + i);
    else for (const [i, g] of expandV6(addr).entries()) body.writeUInt16BE(g, at + i * 2);
  };
  put(a.source, 0);
  put(a.destination, v4 ? 4 : 16);
  body.writeUInt16BE(a.sourcePort, v4 ? 8 : 32);
  body.writeUInt16BE(a.destinationPort, v4 ? 10 : 34);
  const head = Buffer.alloc(16);
  V2_SIGNATURE.copy(head);
  head[12] = 0x21; // version 2, PROXY
  head[13] = v4 ? 0x11 : 0x21; // TCP over IPv4 / IPv6
  head.writeUInt16BE(body.length, 14);
  return Buffer.concat([head, body]);
}

function expandV6(addr: string): number[] {
  const [head = '', tail = ''] = addr.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = addr.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.map((g) => Number.parseInt(g, 16));
}

/** The addresses of a client connection, for sending on to an upstream. */
export function addressesOf(client: Socket): ProxyAddresses {
  const unmap = (a: string | undefined) => (a?.startsWith('::ffff:') ? a.slice(7) : (a ?? '0.0.0.0'));
  const source = unmap(client.remoteAddress);
  const destination = unmap(client.localAddress);
  const family = isIP(source) === 6 || isIP(destination) === 6 ? 6 : 4;
  return {
    family,
    source: family === 6 && isIP(source) === 4 ? `::ffff:${source}` : source,
    destination: family === 6 && isIP(destination) === 4 ? `::ffff:${destination}` : destination,
    sourcePort: client.remotePort ?? 0,
    destinationPort: client.localPort ?? 0,
  };
}

/**
 * Makes `server` read a PROXY header from every connection before its own connection handling
 * (HTTP, TLS or the TCP relay) sees a byte; the socket then reports the client's address and
 * port. A connection without a valid header within `timeoutMs` is closed and counted.
 */
export function acceptProxyProtocol(
  server: Server,
  opts: { timeoutMs?: number; onError?: (err: Error) => void } = {},
): void {
  const handlers = server.listeners('connection') as ((socket: Socket) => void)[];
  const pauseOnConnect = (server as Server & { pauseOnConnect?: boolean }).pauseOnConnect === true;
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    let buf: Buffer = Buffer.alloc(0);
    const fail = (err: Error) => {
      cleanup();
      opts.onError?.(err);
      socket.destroy();
    };
    const timer = setTimeout(
      () => fail(new ProxyProtocolError('no PROXY protocol header in time')),
      opts.timeoutMs ?? 5000,
    );
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let parsed: ParsedHeader | undefined;
      try {
        parsed = parseProxyHeader(buf);
      } catch (err) {
        return fail(err as Error);
      }
      if (!parsed) {
        if (buf.length > MAX_HEADER) fail(new ProxyProtocolError('PROXY header too long'));
        return;
      }
      cleanup();
      socket.pause();
      if (parsed.addresses) {
        const { source, sourcePort } = parsed.addresses;
        Object.defineProperty(socket, 'remoteAddress', { value: source, configurable: true });
        Object.defineProperty(socket, 'remotePort', { value: sourcePort, configurable: true });
      }
      const rest = buf.subarray(parsed.length);
      if (rest.length > 0) socket.unshift(rest);
      for (const h of handlers) h.call(server, socket);
      // As the server would have had it: paused only with pauseOnConnect (the TCP relay).
      if (!pauseOnConnect) socket.resume();
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onSocketError);
    };
    const onSocketError = () => cleanup();
    socket.on('error', onSocketError);
    socket.on('data', onData);
    socket.resume();
  });
  // TLS: the TLSSocket the server wraps around the connection reports the same client.
  server.on('secureConnection', (tls: Socket & { _parent?: Socket }) => {
    const parent = tls._parent;
    if (parent && Object.hasOwn(parent, 'remoteAddress')) {
      Object.defineProperty(tls, 'remoteAddress', { value: parent.remoteAddress, configurable: true });
      Object.defineProperty(tls, 'remotePort', { value: parent.remotePort, configurable: true });
    }
  });
}
