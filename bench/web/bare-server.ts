// Reference only: the least a Node file server can do. It answers GET /<name> with the file's
// bytes held in memory and a Content-Type and Content-Length, nothing else: no stat, no
// conditional requests, no ranges, no access log, no security headers. It shows how much of web's
// CPU per request is Node's own HTTP stack: the floor any Node server stands on.
//
// BARE_ADD (comma-separated) adds one of web's per-request costs at a time, for breakdown.ts:
//   stat     one statSync of the file through `current` (web's proof that a hit is current)
//   headers  web's nine response headers instead of two (validators, cache and security headers)
//   log      an nginx `combined` line per request, written in 64 KiB batches (web's access log)
//   timeout  web's idle and keep-alive timeouts on each connection
// Usage: node bare-server.ts <port> <dir>   (dir: the snapshot; `current` is two levels up)
import { openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';

const [portArg, dir] = process.argv.slice(2);
const add = new Set((process.env.BARE_ADD ?? '').split(',').filter(Boolean));
const files = new Map<string, Buffer>();
for (const name of readdirSync(dir!)) files.set(`/${name}`, readFileSync(join(dir!, name)));

const current = join(dir!, '../../current');
const headers = (body: Buffer): Record<string, string> =>
  add.has('headers')
    ? {
        'content-type': 'text/plain; charset=utf-8',
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'SAMEORIGIN',
        'referrer-policy': 'strict-origin-when-cross-origin',
        etag: '"692b8c00-400"',
        'last-modified': 'Mon, 30 Nov 2026 08:00:00 GMT',
        'accept-ranges': 'bytes',
        'content-length': String(body.length),
      }
    : { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(body.length) };

const log = add.has('log') ? batchedLog(join(dir!, '../../../bare-access.log')) : undefined;
function batchedLog(path: string) {
  const fd = openSync(path, 'a');
  const lines: string[] = [];
  let bytes = 0;
  return (req: IncomingMessage, status: number, size: number, start: number) => {
    const line = `${req.socket.remoteAddress} - - [30/Nov/2026:08:00:00 +0000] "${req.method} ${req.url} HTTP/${req.httpVersion}" ${status} ${size} "${req.headers.referer ?? '-'}" "${req.headers['user-agent'] ?? '-'}" ${((performance.now() - start) / 1000).toFixed(3)}`;
    lines.push(line);
    bytes += line.length + 1;
    if (bytes < 65536) return;
    writeSync(fd, `${lines.join('\n')}\n`);
    lines.length = 0;
    bytes = 0;
  };
}

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const start = performance.now();
  const body = files.get(req.url ?? '');
  if (!body) {
    res.writeHead(404, { 'content-length': '0' });
    res.end();
    return;
  }
  if (add.has('stat') && statSync(current + req.url, { throwIfNoEntry: false })?.size !== body.length)
    throw new Error(`${req.url} changed`);
  res.writeHead(200, headers(body));
  res.end(body);
  log?.(req, 200, body.length, start);
});
if (add.has('timeout')) {
  server.timeout = 60_000;
  server.keepAliveTimeout = 75_000;
}
server.listen(Number(portArg), '127.0.0.1');

// Exit normally on SIGTERM, so `--cpu-prof` can write its profile.
process.on('SIGTERM', () => process.exit(0));
