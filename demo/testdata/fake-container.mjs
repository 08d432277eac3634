// A stand-in process for supervisor and API tests: answers /readyz and /metrics on FAKE_PORT,
// logs one JSON line when listening, exits 0 on SIGTERM (or ignores it with FAKE_IGNORE_TERM=1).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const port = Number(process.env.FAKE_PORT ?? 0);
const server = createServer((req, res) => {
  if (req.url === '/readyz') {
    const ready = process.env.FAKE_READY !== 'false';
    res.writeHead(ready ? 200 : 503).end(ready ? 'ok\n' : 'not ready: fake says no\n');
  } else if (req.url === '/metrics' && process.env.FAKE_METRICS) {
    res.writeHead(200, { 'content-type': 'text/plain' }).end(readFileSync(process.env.FAKE_METRICS, 'utf8'));
  } else {
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<h1>${process.env.FAKE_NAME ?? 'fake'}</h1>`);
  }
});
server.listen(port, '127.0.0.1', () => {
  console.log(JSON.stringify({ level: 'info', msg: 'listening', port: server.address().port }));
  if (process.env.FAKE_STDERR) console.error(process.env.FAKE_STDERR);
});
process.on('SIGTERM', () => {
  if (process.env.FAKE_IGNORE_TERM === '1') return;
  server.close(() => process.exit(0));
});
