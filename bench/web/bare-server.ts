// Reference only: the least a Node file server can do. It answers GET /<name> with the file's
// bytes held in memory and a Content-Type and Content-Length, nothing else: no stat, no
// conditional requests, no ranges, no access log, no security headers. It shows how much of web's
// CPU per request is Node's own HTTP stack: the floor any Node server stands on.
// Usage: node bare-server.ts <port> <dir>
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const [portArg, dir] = process.argv.slice(2);
const files = new Map<string, Buffer>();
for (const name of readdirSync(dir!)) files.set(`/${name}`, readFileSync(join(dir!, name)));

createServer((req, res) => {
  const body = files.get(req.url ?? '');
  if (!body) {
    res.writeHead(404, { 'content-length': '0' });
    res.end();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(body.length) });
  res.end(body);
}).listen(Number(portArg), '127.0.0.1');

// Exit normally on SIGTERM, so `--cpu-prof` can write its profile.
process.on('SIGTERM', () => process.exit(0));
