// https:// and tls:// upstreams with a CA made at test time: CA bundle, SNI, client certificates.
import { once } from 'node:events';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect, createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCa, type TestCa } from './test-ca.ts';
import { get, startAmbassador, type TestAmbassador } from './test-helpers.ts';

let ca: TestCa;
let server: Server;
let port: number;
let lastSni: string | undefined;
let lastClientCert: string | undefined;
const running: TestAmbassador[] = [];

beforeAll(async () => {
  ca = makeTestCa();
  server = createHttpsServer(
    { cert: ca.serverCert, key: ca.serverKey, ca: ca.ca, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const sock = req.socket as TLSSocket;
      lastSni = (sock as TLSSocket & { servername?: string }).servername;
      const cn = sock.authorized ? sock.getPeerCertificate().subject?.CN : undefined;
      lastClientCert = Array.isArray(cn) ? cn[0] : cn;
      res.end(`secure ${req.url}`);
    },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.stop()));
});

async function ambassador(env: Record<string, string>) {
  const a = await startAmbassador(env);
  running.push(a);
  return a;
}

describe('TLS to upstreams', () => {
  describe('https upstreams', () => {
    it('trusts the CA bundle it is given', async () => {
      const amb = await ambassador({
        AMBASSADOR_UPSTREAMS: `https://127.0.0.1:${port}`,
        AMBASSADOR_CA_FILE: ca.caFile,
      });
      const r = await get(`${amb.url}/hello`);
      expect(r.status).toBe(200);
      expect(r.body).toBe('secure /hello');
      expect(lastClientCert).toBeUndefined();
    });

    it('refuses an upstream whose certificate it cannot verify: 502 naming TLS', async () => {
      const amb = await ambassador({
        AMBASSADOR_UPSTREAMS: `https://127.0.0.1:${port}`,
      });
      const r = await get(`${amb.url}/`);
      expect(r.status).toBe(502);
      expect(r.body).toMatch(/TLS to the upstream failed/);
    });

    it('sends the server name (SNI) and checks the certificate against it', async () => {
      const amb = await ambassador({
        AMBASSADOR_UPSTREAMS: `https://127.0.0.1:${port}`,
        AMBASSADOR_CA_FILE: ca.caFile,
        AMBASSADOR_SERVER_NAME: 'upstream.test',
      });
      expect((await get(`${amb.url}/`)).status).toBe(200);
      expect(lastSni).toBe('upstream.test');
      const wrong = await ambassador({
        AMBASSADOR_UPSTREAMS: `https://127.0.0.1:${port}`,
        AMBASSADOR_CA_FILE: ca.caFile,
        AMBASSADOR_SERVER_NAME: 'other.test',
      });
      expect((await get(`${wrong.url}/`)).status).toBe(502);
    });

    it('presents a client certificate when given one', async () => {
      const amb = await ambassador({
        AMBASSADOR_UPSTREAMS: `https://127.0.0.1:${port}`,
        AMBASSADOR_CA_FILE: ca.caFile,
        AMBASSADOR_CERT_FILE: ca.clientCertFile,
        AMBASSADOR_KEY_FILE: ca.clientKeyFile,
      });
      expect((await get(`${amb.url}/`)).status).toBe(200);
      expect(lastClientCert).toBe('ambassador');
    });
  });

  describe('tls:// upstreams in TCP mode', () => {
    let echo: TlsServer;
    let echoPort: number;
    beforeAll(async () => {
      echo = createTlsServer({ cert: ca.serverCert, key: ca.serverKey }, (s) => s.pipe(s));
      echo.listen(0, '127.0.0.1');
      await once(echo, 'listening');
      echoPort = (echo.address() as AddressInfo).port;
    });
    afterAll(async () => {
      await new Promise((r) => echo.close(r));
    });

    it('originates TLS: the app speaks plain TCP to localhost, the remote gets TLS', async () => {
      const amb = await ambassador({
        AMBASSADOR_UPSTREAMS: `tls://127.0.0.1:${echoPort}`,
        AMBASSADOR_CA_FILE: ca.caFile,
      });
      const { connect: netConnect } = await import('node:net');
      const reply = await new Promise<string>((resolve, reject) => {
        const s = netConnect(amb.port, '127.0.0.1', () => s.end('ping over tls'));
        let out = '';
        s.setEncoding('utf8');
        s.on('data', (d) => (out += d));
        s.on('end', () => resolve(out));
        s.on('error', reject);
      });
      expect(reply).toBe('ping over tls');
      // And the echo server really is TLS-only.
      await expect(
        new Promise((resolve, reject) => {
          const s = connect({ port: echoPort, host: '127.0.0.1', rejectUnauthorized: true }, () =>
            resolve(s),
          );
          s.on('error', reject);
        }),
      ).rejects.toThrow();
    });
  });
});
