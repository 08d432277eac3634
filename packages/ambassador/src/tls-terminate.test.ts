// Inbound TLS with real clients: curl for HTTPS and mutual TLS, openssl s_client for SNI selection
// and the protocols offered, and a certificate rotated the way the kubelet updates a Secret volume
// (a new `..data` folder swapped in by rename) while requests keep coming.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { type AddressInfo, createServer as createNetServer, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCa } from './test-ca.ts';
import { tempDir, writeConfig } from './test-files.ts';
import {
  metricValue,
  type Origin,
  startAmbassador,
  startOrigin,
  type TestAmbassador,
  waitFor,
} from './test-helpers.ts';

const run = promisify(execFile);
const ca = makeTestCa();
const pem = (name: string) => join(ca.dir, name);

/** A folder laid out as the kubelet lays out a Secret volume: tls.crt → ..data/tls.crt. */
function secretVolume(cert: string, key: string): { dir: string; swap(cert: string, key: string): void } {
  const dir = tempDir();
  let generation = 0;
  const write = (c: string, k: string) => {
    const gen = join(dir, `..gen_${++generation}`);
    mkdirSync(gen);
    cpSync(c, join(gen, 'tls.crt'));
    cpSync(k, join(gen, 'tls.key'));
    symlinkSync(`..gen_${generation}`, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  };
  write(cert, key);
  symlinkSync('..data/tls.crt', join(dir, 'tls.crt'));
  symlinkSync('..data/tls.key', join(dir, 'tls.key'));
  return { dir, swap: write };
}

/** The subject CN of the certificate the listener serves for an SNI name (none: no SNI sent). */
async function servedCn(port: number, servername?: string, extra: string[] = []): Promise<string> {
  const args = [
    's_client',
    '-connect',
    `127.0.0.1:${port}`,
    ...(servername ? ['-servername', servername] : ['-noservername']),
    ...extra,
  ];
  const child = execFile('openssl', args, { timeout: 5000 });
  child.stdin!.end('Q\n');
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  await new Promise((r) => child.on('close', r));
  return /subject=.*CN\s*=\s*([^\n,/]+)/.exec(out)?.[1]?.trim() ?? `(no certificate: ${out.slice(0, 200)})`;
}

async function curl(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run('curl', ['-s', '--max-time', '5', ...args]);
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, out: e.stdout };
  }
}

let origin: Origin;
let seenProto: string | undefined;
const running: TestAmbassador[] = [];
beforeAll(async () => {
  origin = await startOrigin((req, res) => {
    seenProto = req.headers['x-forwarded-proto'] as string | undefined;
    res.end(`hello ${req.url}`);
  });
});
afterAll(() => origin.close());
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.stop()));
});
async function ambassador(env: Record<string, string>): Promise<TestAmbassador> {
  const a = await startAmbassador(env);
  running.push(a);
  return a;
}

describe('a TLS listener', () => {
  it('serves HTTPS to curl and tells the upstream the client came over https', async () => {
    const amb = await ambassador({
      AMBASSADOR_UPSTREAMS: origin.url,
      AMBASSADOR_TLS_CERT_FILE: pem('site-a.pem'),
      AMBASSADOR_TLS_KEY_FILE: pem('site-a.key'),
    });
    const r = await curl([
      '--cacert',
      ca.caFile,
      '--resolve',
      `a.example.test:${amb.port}:127.0.0.1`,
      `https://a.example.test:${amb.port}/x`,
    ]);
    expect(r).toEqual({ code: 0, out: 'hello /x' });
    expect(seenProto).toBe('https');
    expect(await metricValue(amb, 'ambassador_tls_certificate_expiry_timestamp_seconds')).toBeGreaterThan(
      Date.now() / 1000 + 50 * 365 * 86400,
    );
  });

  it('chooses the certificate by SNI: exact name, wildcard, else the first', async () => {
    const { file } = writeConfig(`
listeners:
  - name: web
    port: 0
    pool: app
    tls:
      certificates:
        - { certFile: ${pem('site-a.pem')}, keyFile: ${pem('site-a.key')} }
        - { certFile: ${pem('site-b.pem')}, keyFile: ${pem('site-b.key')} }
pools:
  app: { upstreams: [${origin.url}] }
`);
    const amb = await ambassador({ AMBASSADOR_CONFIG: file });
    expect(await servedCn(amb.port, 'b.example.test')).toBe('b.example.test');
    expect(await servedCn(amb.port, 'a.example.test')).toBe('a.example.test');
    expect(await servedCn(amb.port, 'x.apps.example.test')).toBe('a.example.test');
    expect(await servedCn(amb.port, 'B.EXAMPLE.TEST')).toBe('b.example.test');
    expect(await servedCn(amb.port, 'unknown.test')).toBe('a.example.test');
    expect(await servedCn(amb.port)).toBe('a.example.test');
  });

  it('offers TLS 1.2 and 1.3 only, and ALPN h2 then http/1.1', async () => {
    const amb = await ambassador({
      AMBASSADOR_UPSTREAMS: origin.url,
      AMBASSADOR_TLS_CERT_FILE: pem('site-a.pem'),
      AMBASSADOR_TLS_KEY_FILE: pem('site-a.key'),
    });
    expect(await servedCn(amb.port, 'a.example.test', ['-tls1_1'])).toMatch(/no certificate/);
    expect(await servedCn(amb.port, 'a.example.test', ['-tls1_2'])).toBe('a.example.test');
    expect(await servedCn(amb.port, 'a.example.test', ['-tls1_3'])).toBe('a.example.test');
    const alpn = await new Promise<string>((resolve) => {
      const child = execFile(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${amb.port}`, '-alpn', 'h2,http/1.1'],
        { timeout: 5000 },
      );
      child.stdin!.end('Q\n');
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      child.on('close', () => resolve(/ALPN protocol: (\S+)/.exec(out)?.[1] ?? 'none'));
    });
    expect(alpn).toBe('h2');
    await curl(['-k', `https://127.0.0.1:${amb.port}/`, '--tlsv1.0', '--tls-max', '1.1']);
    expect(await metricValue(amb, 'ambassador_tls_handshake_errors_total')).toBeGreaterThan(0);
  });

  it('asks for a client certificate with a client CA (mutual TLS) and refuses clients without one', async () => {
    const amb = await ambassador({
      AMBASSADOR_UPSTREAMS: origin.url,
      AMBASSADOR_TLS_CERT_FILE: pem('site-a.pem'),
      AMBASSADOR_TLS_KEY_FILE: pem('site-a.key'),
      AMBASSADOR_TLS_CLIENT_CA_FILE: ca.caFile,
    });
    const url = `https://127.0.0.1:${amb.port}/m`;
    expect((await curl(['--cacert', ca.caFile, url])).code).not.toBe(0);
    expect(
      await curl(['--cacert', ca.caFile, '--cert', ca.clientCertFile, '--key', ca.clientKeyFile, url]),
    ).toEqual({
      code: 0,
      out: 'hello /m',
    });
  });

  it('rotates certificates as a Secret update does, without failing a request; a bad pair is refused', async () => {
    const vol = secretVolume(pem('site-a.pem'), pem('site-a.key'));
    const amb = await ambassador({
      AMBASSADOR_UPSTREAMS: origin.url,
      AMBASSADOR_TLS_CERT_FILE: join(vol.dir, 'tls.crt'),
      AMBASSADOR_TLS_KEY_FILE: join(vol.dir, 'tls.key'),
      AMBASSADOR_TEST_WATCH: 'true',
    });
    const serial = async () =>
      new Promise<string>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: amb.port,
            path: '/r',
            ca: ca.ca,
            servername: 'a.example.test',
            agent: false,
          },
          (res) => {
            const s = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().serialNumber;
            res.resume();
            res.on('end', () =>
              res.statusCode === 200 ? resolve(s) : reject(new Error(`status ${res.statusCode}`)),
            );
          },
        );
        req.on('error', reject);
        req.end();
      });
    const before = await serial();
    // Load: new connections, one after another, while the Secret changes under them.
    let failures = 0;
    let served = 0;
    let stop = false;
    const seen = new Set<string>();
    const load = (async () => {
      while (!stop) {
        try {
          seen.add(await serial());
          served++;
        } catch {
          failures++;
        }
      }
    })();
    await waitFor('some requests', () => served > 20);
    vol.swap(pem('site-a-renewed.pem'), pem('site-a-renewed.key'));
    await waitFor('the renewed certificate to be served', () => seen.size === 2, 15_000);
    // A broken update (the key of another certificate): refused, the renewed one stays.
    vol.swap(pem('site-a.pem'), pem('site-b.key'));
    await waitFor(
      'the rejection',
      async () => (await metricValue(amb, 'ambassador_tls_reloads_total', { result: 'rejected' })) >= 1,
      15_000,
    );
    const afterBad = served;
    await waitFor('requests after the rejection', () => served > afterBad + 10);
    stop = true;
    await load;
    expect(failures).toBe(0);
    const now = await serial();
    expect(now).not.toBe(before);
    expect(await metricValue(amb, 'ambassador_tls_reloads_total', { result: 'applied' })).toBe(1);
  }, 40_000);

  it('redirects plain HTTP to https on its own port', async () => {
    const { file } = writeConfig(`
listeners:
  - { name: plain, port: 0, redirectToHttps: 8443 }
pools: {}
`);
    const amb = await ambassador({ AMBASSADOR_CONFIG: file });
    const r = await curl(['-i', '-H', 'Host: shop.example.test', `http://127.0.0.1:${amb.port}/cart?id=1`]);
    expect(r.out).toMatch(/^HTTP\/1.1 308 /);
    expect(r.out).toMatch(/\r\nlocation: https:\/\/shop.example.test:8443\/cart\?id=1\r\n/i);
  });

  it('terminates TLS in TCP mode: clients speak TLS, the upstream plain TCP', async () => {
    const echo: Server = createNetServer((s) => s.pipe(s));
    echo.listen(0, '127.0.0.1');
    await new Promise((r) => echo.once('listening', r));
    try {
      const amb = await ambassador({
        AMBASSADOR_UPSTREAMS: `tcp://127.0.0.1:${(echo.address() as AddressInfo).port}`,
        AMBASSADOR_TLS_CERT_FILE: pem('site-a.pem'),
        AMBASSADOR_TLS_KEY_FILE: pem('site-a.key'),
      });
      const { connect } = await import('node:tls');
      const reply = await new Promise<string>((resolve, reject) => {
        const s = connect(
          { host: '127.0.0.1', port: amb.port, ca: ca.ca, servername: 'a.example.test' },
          () => s.end('ping over tls'),
        );
        let out = '';
        s.setEncoding('utf8');
        s.on('data', (d) => (out += d));
        s.on('end', () => resolve(out));
        s.on('error', reject);
      });
      expect(reply).toBe('ping over tls');
    } finally {
      echo.close();
    }
  });
});

describe('TLS settings at start', () => {
  it("refuses a key that is not the certificate's, naming the file", async () => {
    await expect(
      startAmbassador({
        AMBASSADOR_UPSTREAMS: origin.url,
        AMBASSADOR_TLS_CERT_FILE: pem('site-a.pem'),
        AMBASSADOR_TLS_KEY_FILE: pem('site-b.key'),
      }),
    ).rejects.toThrow(/AMBASSADOR_TLS_CERT_FILE: .*site-b.key: the key does not match the certificate/);
    const notPem = join(tempDir(), 'cert.pem');
    writeFileSync(notPem, 'not a certificate\n');
    await expect(
      startAmbassador({
        AMBASSADOR_UPSTREAMS: origin.url,
        AMBASSADOR_TLS_CERT_FILE: notPem,
        AMBASSADOR_TLS_KEY_FILE: pem('site-a.key'),
      }),
    ).rejects.toThrow(/cert.pem holds no PEM certificate/);
  });
});
