import { Agent, createServer, get } from 'node:http';
import { describe, expect, it } from 'vitest';
import { closeServer, ListenError, listen } from './listen.ts';
import { SettingError } from './settings.ts';

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

describe('listen', () => {
  it('blames the host setting, not the port, for an address that is not this machine’s', async () => {
    const server = createServer();
    const bind = (host: string) =>
      listen(server, { port: 0, host, setting: '--port / T_PORT', hostSetting: '--host / T_HOST' });
    await expect(bind('192.0.2.1')).rejects.toThrow(
      new SettingError(
        'invalid setting --host / T_HOST: "192.0.2.1" is not an address of this machine (EADDRNOTAVAIL); use 0.0.0.0, :: or an address of this machine',
      ),
    );
    await expect(bind('no-such-host.invalid')).rejects.toThrow(
      /^invalid setting --host \/ T_HOST: "no-such-host\.invalid" does not resolve/,
    );
    // Without a host setting to name, the message still says it is the address.
    await expect(listen(server, { port: 0, host: '192.0.2.1', setting: '--port' })).rejects.toThrow(
      new ListenError(
        'cannot listen on 192.0.2.1: the address is not an address of this machine (EADDRNOTAVAIL)',
      ),
    );
    expect(server.listening).toBe(false);
  });
});
