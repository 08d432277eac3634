// Rate limits, IP allowlists, basic auth (bcrypt htpasswd), JWT (a JWKS file) and outbound
// credentials, through a real ambassador to a real origin that records what reaches it.

import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, writeConfig } from '../test-files.ts';
import {
  metricValue,
  type Origin,
  startAmbassador,
  startOrigin,
  type TestAmbassador,
  waitFor,
} from '../test-helpers.ts';

let origin: Origin;
let seen: Record<string, string | string[] | undefined> = {};
const running: TestAmbassador[] = [];
beforeAll(async () => {
  origin = await startOrigin((req, res) => {
    seen = req.headers;
    res.end('ok');
  });
});
afterAll(() => origin.close());
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.stop()));
});

async function ambassador(config: string): Promise<TestAmbassador> {
  const { file } = writeConfig(config);
  const a = await startAmbassador({ AMBASSADOR_CONFIG: file });
  running.push(a);
  return a;
}

/** GET from a chosen loopback source address, so tests can be several clients. */
function from(
  amb: TestAmbassador,
  path: string,
  opts: { source?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: amb.port,
        path,
        localAddress: opts.source ?? '127.0.0.1',
        headers: opts.headers,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const pool = () => `pools:\n  app: { upstreams: [${origin.url}] }\n`;

describe('rate limits', () => {
  it('answer 429 with Retry-After past the burst, for everybody or per client', async () => {
    const amb = await ambassador(`
listeners:
  - name: web
    port: 0
    rateLimit: { requestsPerSecond: 0.5, burst: 2 }
    routes:
      - pathPrefix: /each
        pool: app
        rateLimit: { requestsPerSecond: 0.5, burst: 1, perClient: true }
      - { pool: app }
${pool()}`);
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await from(amb, '/')).status);
    expect(codes).toEqual([200, 200, 429]);
    const limited = await from(amb, '/');
    expect(limited.headers['retry-after']).toBe('2');
    expect(await metricValue(amb, 'ambassador_rate_limited_total', { route: '' })).toBe(2);
  });

  it('per client: each address has its own bucket', async () => {
    const amb = await ambassador(`
listeners:
  - name: web
    port: 0
    routes:
      - { pool: app, rateLimit: { requestsPerSecond: 0.5, burst: 1, perClient: true } }
${pool()}`);
    expect((await from(amb, '/', { source: '127.0.0.1' })).status).toBe(200);
    expect((await from(amb, '/', { source: '127.0.0.1' })).status).toBe(429);
    expect((await from(amb, '/', { source: '127.0.0.2' })).status).toBe(200);
    expect(await metricValue(amb, 'ambassador_rate_limited_total', { route: '*/' })).toBe(1);
  });
});

describe('IP allowlist', () => {
  it('refuses other addresses with 403, per listener and per route', async () => {
    const amb = await ambassador(`
listeners:
  - name: web
    port: 0
    allow: [127.0.0.0/30, "::1"]
    routes:
      - { pathPrefix: /admin, pool: app, allow: [127.0.0.2] }
      - { pool: app }
${pool()}`);
    expect((await from(amb, '/', { source: '127.0.0.1' })).status).toBe(200);
    expect((await from(amb, '/', { source: '127.0.0.5' })).status).toBe(403);
    expect((await from(amb, '/admin', { source: '127.0.0.1' })).status).toBe(403);
    expect((await from(amb, '/admin', { source: '127.0.0.2' })).status).toBe(200);
    expect(await metricValue(amb, 'ambassador_access_denied_total', { reason: 'not_allowed' })).toBe(2);
  });
});

describe('basic auth', () => {
  const basic = (u: string, p: string) => ({
    authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`,
  });

  it('lets htpasswd users in, tells the upstream who, and follows the file', async () => {
    const dir = tempDir();
    const htpasswd = join(dir, 'htpasswd');
    writeFileSync(
      htpasswd,
      `# users\nada:${bcrypt.hashSync('lovelace', 4)}\nbob:${bcrypt.hashSync('builder', 4)}\n`,
    );
    const amb = await ambassador(`
listeners:
  - name: web
    port: 0
    auth: { basic: { htpasswdFile: ${htpasswd}, realm: shop } }
    pool: app
${pool()}`);
    const none = await from(amb, '/');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Basic realm="shop", charset="UTF-8"');
    expect((await from(amb, '/', { headers: basic('ada', 'wrong') })).status).toBe(401);
    expect((await from(amb, '/', { headers: basic('eve', 'lovelace') })).status).toBe(401);
    const ok = await from(amb, '/', {
      headers: { ...basic('ada', 'lovelace'), 'x-authenticated-user': 'root' },
    });
    expect(ok.status).toBe(200);
    expect(seen['x-authenticated-user']).toBe('ada');
    // bob leaves the file: refused within a second or two, no restart.
    writeFileSync(htpasswd, `ada:${bcrypt.hashSync('lovelace', 4)}\n`);
    expect((await from(amb, '/', { headers: basic('bob', 'builder') })).status).toBe(200);
    await waitFor(
      'bob to be refused',
      async () => (await from(amb, '/', { headers: basic('bob', 'builder') })).status === 401,
      5000,
    );
    expect(
      await metricValue(amb, 'ambassador_access_denied_total', { reason: 'bad_credentials' }),
    ).toBeGreaterThanOrEqual(3);
  });

  it('refuses an htpasswd with a hash that is not bcrypt, at start, naming the line', async () => {
    const htpasswd = join(tempDir(), 'htpasswd');
    writeFileSync(htpasswd, 'ada:$apr1$abc$0123456789012345678901\n');
    const { file } = writeConfig(`
listeners: [{ name: web, port: 0, pool: app, auth: { basic: { htpasswdFile: ${htpasswd} } } }]
${pool()}`);
    await expect(startAmbassador({ AMBASSADOR_CONFIG: file })).rejects.toThrow(
      /listeners\[0\].auth: .*htpasswd: line 1: not "user:<bcrypt hash>"/,
    );
  });
});

describe('JWT', () => {
  it('verifies bearer tokens against a JWKS file: issuer, audience, expiry', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwks = join(tempDir(), 'jwks.json');
    writeFileSync(
      jwks,
      JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] }),
    );
    const token = (claims: { iss?: string; exp?: string }) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setSubject('user-42')
        .setIssuer(claims.iss ?? 'https://idp.test')
        .setAudience('shop')
        .setExpirationTime(claims.exp ?? '5m')
        .sign(privateKey);
    const amb = await ambassador(`
listeners:
  - name: web
    port: 0
    routes:
      - pathPrefix: /api
        pool: app
        auth: { jwt: { jwksFile: ${jwks}, issuer: "https://idp.test", audience: shop } }
      - { pool: app }
${pool()}`);
    expect((await from(amb, '/open')).status).toBe(200);
    const none = await from(amb, '/api/x');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    const good = await from(amb, '/api/x', { headers: { authorization: `Bearer ${await token({})}` } });
    expect(good.status).toBe(200);
    expect(seen['x-authenticated-user']).toBe('user-42');
    const otherIssuer = await from(amb, '/api/x', {
      headers: { authorization: `Bearer ${await token({ iss: 'https://evil' })}` },
    });
    expect(otherIssuer.status).toBe(401);
    const expired = await from(amb, '/api/x', {
      headers: { authorization: `Bearer ${await token({ exp: '-1m' })}` },
    });
    expect(expired.status).toBe(401);
    expect(expired.body).toMatch(/expired/);
    const forged = (await token({})).replace(/\.[^.]+$/, '.AAAA');
    expect((await from(amb, '/api/x', { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
  });
});

describe('outbound credentials', () => {
  it("add the pool's credential from a file, replacing what the app sent, and follow the file", async () => {
    const dir = tempDir();
    const token = join(dir, 'token');
    writeFileSync(token, 's3cret-1\n');
    const user = join(dir, 'user');
    const pass = join(dir, 'pass');
    writeFileSync(user, 'svc');
    writeFileSync(pass, 'pw\n');
    const amb = await ambassador(`
listeners:
  - name: out
    port: 0
    routes:
      - { pathPrefix: /basic, pool: basic }
      - { pool: api }
pools:
  api: { upstreams: [${origin.url}], credentials: { header: Authorization, file: ${token}, prefix: "Bearer " } }
  basic: { upstreams: [${origin.url}], credentials: { basic: { usernameFile: ${user}, passwordFile: ${pass} } } }
`);
    await from(amb, '/', { headers: { authorization: 'Bearer the-apps-own' } });
    expect(seen.authorization).toBe('Bearer s3cret-1');
    await from(amb, '/basic');
    expect(seen.authorization).toBe(`Basic ${Buffer.from('svc:pw').toString('base64')}`);
    writeFileSync(token, 's3cret-2\n');
    await waitFor(
      'the new token',
      async () => {
        await from(amb, '/');
        return seen.authorization === 'Bearer s3cret-2';
      },
      5000,
    );
    // Never in the access log.
    expect(JSON.stringify(amb.access)).not.toMatch(/s3cret/);
  });
});
