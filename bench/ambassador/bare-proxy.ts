// Reference only: the least a Node proxy can do with node:http (keep-alive agent, pipe both ways,
// no routing, no headers, no logs, no metrics). It shows how much of the ambassador's CPU per
// request is Node's own HTTP stack. Usage: node bare-proxy.ts <listen-port> <origin-port>
import { Agent, createServer, request } from 'node:http';

const [listen, origin] = process.argv.slice(2).map(Number);
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
createServer((req, res) => {
  const up = request(
    { host: '127.0.0.1', port: origin, method: req.method, path: req.url, headers: req.headers, agent },
    (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    },
  );
  up.on('error', () => res.destroy());
  req.pipe(up);
}).listen(listen, '127.0.0.1');
