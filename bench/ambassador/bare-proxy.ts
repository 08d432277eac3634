// Reference only: the least a Node proxy can do (keep-alive to the origin, pipe both ways, no
// routing, no header policy, no logs, no metrics), with either HTTP client. It shows how much of
// the ambassador's CPU per request is Node's own HTTP stack: the floor any Node proxy stands on.
// Usage: node bare-proxy.ts <undici|node> <listen-port> <origin-port>
import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { type Dispatcher, Pool } from 'undici';

const [engine, listenArg, originArg] = process.argv.slice(2);
const listen = Number(listenArg);
const origin = Number(originArg);

function viaNode(): (req: IncomingMessage, res: ServerResponse) => void {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  return (req, res) => {
    const up = request(
      { host: '127.0.0.1', port: origin, method: req.method, path: req.url, headers: req.headers, agent },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  };
}

function viaUndici(): (req: IncomingMessage, res: ServerResponse) => void {
  const pool = new Pool(`http://127.0.0.1:${origin}`, { allowH2: false });
  return (req, res) => {
    const headers: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const n = req.rawHeaders[i]!.toLowerCase();
      if (n !== 'connection' && n !== 'keep-alive') headers.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    }
    const hasBody =
      req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart() {},
      onResponseStart(c, status, h) {
        const out = h as Record<string, string>;
        delete out.connection;
        delete out['keep-alive'];
        delete out['transfer-encoding'];
        res.writeHead(status, out);
        res.on('drain', () => c.resume());
      },
      onResponseData(c, chunk) {
        if (!res.write(chunk)) c.pause();
      },
      onResponseEnd() {
        res.end();
      },
      onResponseError() {
        res.destroy();
      },
    };
    pool.dispatch(
      { method: req.method ?? 'GET', path: req.url ?? '/', headers, body: hasBody ? req : null },
      handler,
    );
  };
}

createServer(engine === 'node' ? viaNode() : viaUndici()).listen(listen, '127.0.0.1');
