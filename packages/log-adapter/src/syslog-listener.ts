// ADAPTER_SYSLOG_LISTEN: access-log lines sent over UDP syslog (nginx's `access_log syslog:…`,
// HAProxy's `log`) on the pod's shared localhost, with no shared volume. Each sending program is
// a source of its own (its format detected apart). UDP can lose datagrams when the adapter falls
// behind: the socket's receive buffer is sized up (ADAPTER_SYSLOG_RECEIVE_BUFFER, capped by the
// kernel's net.core.rmem_max) and what the kernel dropped is read from /proc/net/udp.
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { ListenError, type Logger } from '@multipod/service';
import { parseSyslog } from './syslog.ts';

export interface SyslogAddress {
  host: string;
  port: number;
}

/** `udp://127.0.0.1:5140`, `udp://[::1]:5140`; throws an Error saying what is allowed. */
export function parseListen(text: string): SyslogAddress {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error('not a URL; give udp://<address>:<port>, e.g. udp://127.0.0.1:5140');
  }
  if (url.protocol !== 'udp:')
    throw new Error(
      `${url.protocol.replace(':', '')} is not supported (nginx sends syslog over UDP only); give udp://<address>:<port>`,
    );
  if (url.port === '' || url.pathname !== '' || url.search !== '' || url.username !== '')
    throw new Error('give udp://<address>:<port> and nothing more, e.g. udp://127.0.0.1:5140');
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(url.port) };
}

/** A program's lines: a LineSink with a format (see source.ts). */
export interface SyslogSource {
  readonly name: string;
  readonly format: string;
  line(buf: Buffer, start: number, end: number): void;
  tooLong(): void;
}

export interface SyslogOptions {
  address: SyslogAddress;
  /** Bytes asked of the kernel for the socket's receive buffer. */
  receiveBuffer: number;
  maxLine: number;
  /** A new source for a program (named `syslog:<program>`). */
  source(name: string): SyslogSource;
  /** Called for each datagram before its line (bytes read, the clock of ADAPTER_SERIES_TTL). */
  datagram(bytes: number): void;
  log: Logger;
}

/** Sources kept apart by program name; past this many, the rest share one (`syslog:*`). */
const MAX_PROGRAMS = 64;

export class SyslogListener {
  readonly #opts: SyslogOptions;
  readonly #sources = new Map<string, SyslogSource>();
  #socket: Socket | null = null;
  #port = 0;
  #receiveBuffer = 0;

  constructor(opts: SyslogOptions) {
    this.#opts = opts;
  }

  /** The URL it listens on (with the bound port). */
  get url(): string {
    const { host } = this.#opts.address;
    return `udp://${isIPv6(host) ? `[${host}]` : host}:${this.#port}`;
  }

  get listening(): boolean {
    return this.#socket !== null;
  }

  /** The receive buffer the kernel gave (what getsockopt reports). */
  get receiveBuffer(): number {
    return this.#receiveBuffer;
  }

  async start(): Promise<number> {
    const { address, log } = this.#opts;
    const socket = createSocket({ type: isIPv6(address.host) ? 'udp6' : 'udp4' });
    const setting = '--syslog-listen / ADAPTER_SYSLOG_LISTEN';
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err: NodeJS.ErrnoException) => {
        const where = `udp ${address.host}:${address.port} (${setting})`;
        reject(
          new ListenError(
            err.code === 'EADDRINUSE'
              ? `port ${where} is already in use; choose another with ${setting}`
              : `cannot listen on ${where}: ${err.message}`,
          ),
        );
      });
      socket.bind(address.port, address.host, () => resolve());
    });
    socket.removeAllListeners('error');
    socket.on('error', (err) => log.error({ err }, `syslog socket error: ${err.message}`));
    try {
      socket.setRecvBufferSize(this.#opts.receiveBuffer);
    } catch (err) {
      log.warn({ err }, `cannot size the syslog receive buffer: ${(err as Error).message}`);
    }
    this.#receiveBuffer = socket.getRecvBufferSize();
    this.#port = socket.address().port;
    socket.on('message', (msg) => this.#message(msg));
    this.#socket = socket;
    // Linux caps the request at net.core.rmem_max, then doubles it (room for its bookkeeping) in
    // what getsockopt reports: a request granted whole reads back as twice its size.
    const capped = this.#receiveBuffer < 2 * this.#opts.receiveBuffer;
    log.info(
      { url: this.url, receiveBuffer: this.#receiveBuffer, asked: this.#opts.receiveBuffer },
      capped
        ? `listening for syslog; the kernel granted a smaller receive buffer than asked (net.core.rmem_max caps it; raise it on the node to absorb longer stalls)`
        : 'listening for syslog',
    );
    return this.#port;
  }

  /** Each program heard from, with its format. */
  sources(): { path: string; format: string }[] {
    return [...this.#sources.values()].map((s) => ({ path: s.name, format: s.format }));
  }

  /**
   * Datagrams the kernel dropped on this socket (its receive buffer was full), from the `drops`
   * column of /proc/net/udp; null where that cannot be read.
   */
  drops(): number | null {
    if (this.#socket === null) return null;
    const port = this.#port.toString(16).toUpperCase().padStart(4, '0');
    const table = isIPv6(this.#opts.address.host) ? '/proc/net/udp6' : '/proc/net/udp';
    let text: string;
    try {
      text = readFileSync(table, 'latin1');
    } catch {
      return null;
    }
    for (const row of text.split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
      if (cols.length < 13 || !cols[1]!.endsWith(`:${port}`)) continue;
      return Number(cols[12]);
    }
    return null;
  }

  close(): Promise<void> {
    const socket = this.#socket;
    this.#socket = null;
    if (socket === null) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }

  #message(msg: Buffer): void {
    this.#opts.datagram(msg.length);
    const m = parseSyslog(msg);
    const source = this.#source(m.app);
    if (m.end - m.start > this.#opts.maxLine) source.tooLong();
    else source.line(msg, m.start, m.end);
  }

  #source(app: string): SyslogSource {
    const found = this.#sources.get(app);
    if (found) return found;
    const name = this.#sources.size < MAX_PROGRAMS ? app : '*';
    let s = this.#sources.get(name);
    if (!s) {
      s = this.#opts.source(`syslog:${name}`);
      this.#sources.set(name, s);
    }
    return s;
  }
}
