import { Agent, createServer, get } from 'node:http';
import { describe, expect, it } from 'vitest';
import { closeServer, listen } from './listen.ts';

describe('closeServer', () => {
  it('finishes the in-flight response, then closes the keep-alive socket it leaves behind', async () => {
    const server = createServer((_req, res) => setTimeout(() => res.end('done'), 300));
    server.keepAliveTimeout = 60_000;
    const port = await listen(server, { port: 0, host: '127.0.0.1', setting: '--port' });
    const agent = new Agent({ keepAlive: true });
    const body = new Promise<string>((resolve, reject) => {
      get({ host: '127.0.0.1', port, agent, path: '/' }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d;
        });
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    await new Promise((r) => setTimeout(r, 50)); // the request is now in flight
    const started = Date.now();
    await closeServer(server);
    expect(await body).toBe('done');
    // Without the sweep, close() would wait for the 60 s keep-alive timeout.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(server.listening).toBe(false);
    agent.destroy();
  });

  it('resolves at once for a server that is not listening', async () => {
    await expect(closeServer(createServer())).resolves.toBeUndefined();
  });
});
