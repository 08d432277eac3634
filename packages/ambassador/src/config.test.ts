// Settings, the simple form, and the YAML file's validation (errors name the line and the field).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSettings, SettingError } from '@multipod/service';
import { describe, expect, it } from 'vitest';
import { type AmbassadorSettings, poolDefaults, settings, simpleConfig } from './config.ts';
import { ConfigFileError, parseConfigFile } from './config-file.ts';
import { makeTestCa } from './test-ca.ts';

const load = (env: Record<string, string>) => loadSettings(settings, [], env) as AmbassadorSettings;
const noFiles = (p: string): string => {
  throw new Error(`ENOENT: no such file ${p}`);
};
const defaults = () => {
  const s = load({});
  return {
    ...poolDefaults(s, noFiles),
    maxInFlight: 0,
    host: '0.0.0.0',
    trustForwarded: false,
    requestId: true,
  };
};

describe('simple form', () => {
  it('is one HTTP listener on 8000 in front of the upstreams', () => {
    const c = simpleConfig(
      load({ AMBASSADOR_UPSTREAMS: 'http://127.0.0.1:8080, http://10.0.0.2:80' }),
      noFiles,
    );
    expect(c.listeners).toEqual([
      {
        name: 'default',
        host: '0.0.0.0',
        port: 8000,
        protocol: 'http',
        routes: [{ pathPrefix: '/', pool: 'default' }],
        pool: undefined,
      },
    ]);
    const pool = c.pools.get('default')!;
    expect(pool.upstreams.map((u) => u.url)).toEqual(['http://127.0.0.1:8080', 'http://10.0.0.2:80']);
    expect(pool).toMatchObject({
      balance: 'round-robin',
      connectTimeout: 2000,
      readTimeout: 30_000,
      idleTimeout: 4000,
      retries: 1,
      retryBudget: 0.2,
    });
    expect(pool.healthCheck).toBeUndefined();
  });

  it('is a TCP listener when the upstreams are tcp:// or tls://', () => {
    const c = simpleConfig(
      load({ AMBASSADOR_LISTEN: '6379', AMBASSADOR_UPSTREAMS: 'tls://redis.example:6380' }),
      noFiles,
    );
    expect(c.listeners[0]).toMatchObject({ protocol: 'tcp', port: 6379, pool: 'default' });
  });

  it('refuses a mix of HTTP and TCP upstreams, and no upstreams at all', () => {
    expect(() => simpleConfig(load({ AMBASSADOR_UPSTREAMS: 'http://a:1,tcp://b:2' }), noFiles)).toThrow(
      /mixes/,
    );
    expect(() => simpleConfig(load({}), noFiles)).toThrow(SettingError);
    expect(() => simpleConfig(load({}), noFiles)).toThrow(/AMBASSADOR_UPSTREAMS/);
  });

  it('names the setting and the value for bad ones', () => {
    expect(() => load({ AMBASSADOR_UPSTREAMS: 'ftp://x' })).toThrow(/AMBASSADOR_UPSTREAMS: "ftp:\/\/x"/);
    expect(() => load({ AMBASSADOR_CONNECT_TIMEOUT: 'soon' })).toThrow(/AMBASSADOR_CONNECT_TIMEOUT/);
    expect(() => poolDefaults(load({ AMBASSADOR_HEALTH_CHECK: 'healthz' }), noFiles)).toThrow(
      /AMBASSADOR_HEALTH_CHECK/,
    );
    expect(() => poolDefaults(load({ AMBASSADOR_CA_FILE: '/nope/ca.pem' }), noFiles)).toThrow(
      /AMBASSADOR_CA_FILE: cannot read/,
    );
  });
});

describe('what start-up refuses instead of dropping silently', () => {
  const ca = makeTestCa();
  const files = (p: string) => readFileSync(p, 'utf8');

  it('an upstream URL with a path, a query or credentials', () => {
    for (const [u, why] of [
      ['http://127.0.0.1:8080/api', /has a path or query \(\/api\)/],
      ['http://127.0.0.1:8080/?x=1', /has a path or query/],
      ['http://user:pass@127.0.0.1:8080', /carries credentials/],
    ] as const)
      expect(() => simpleConfig(load({ AMBASSADOR_UPSTREAMS: u }), noFiles), u).toThrow(
        new RegExp(
          `^invalid setting --upstreams / AMBASSADOR_UPSTREAMS: "${u.replace(/[?.]/g, '\\$&')}" ${why.source}`,
        ),
      );
    expect(() =>
      simpleConfig(load({ AMBASSADOR_UPSTREAMS: 'http://127.0.0.1:8080/' }), noFiles),
    ).not.toThrow();
    expect(() =>
      parseConfigFile(
        'listeners: [{ name: a, port: 1, pool: p }]\npools: { p: { upstreams: ["http://u:p@a:1"] } }',
        'amb.yaml',
        defaults(),
        noFiles,
      ),
    ).toThrow(/amb.yaml:2 pools.p.upstreams\[0\].*"http:\/\/u:p@a:1" carries credentials/);
  });

  it("a CA, certificate or key file that is not PEM of its kind, and a key that is not the certificate's", () => {
    expect(() => poolDefaults(load({ AMBASSADOR_CA_FILE: '/etc/passwd' }), files)).toThrow(
      /^invalid setting --ca-file \/ AMBASSADOR_CA_FILE: \/etc\/passwd holds no PEM certificate/,
    );
    expect(() =>
      poolDefaults(load({ AMBASSADOR_CERT_FILE: ca.clientCertFile, AMBASSADOR_KEY_FILE: ca.caFile }), files),
    ).toThrow(/AMBASSADOR_KEY_FILE: .* holds no PEM private key/);
    const serverKey = join(ca.dir, 'server.key');
    expect(() =>
      poolDefaults(load({ AMBASSADOR_CERT_FILE: ca.clientCertFile, AMBASSADOR_KEY_FILE: serverKey }), files),
    ).toThrow(/AMBASSADOR_KEY_FILE: the key does not match the certificate/);
    expect(() =>
      poolDefaults(
        load({
          AMBASSADOR_CA_FILE: ca.caFile,
          AMBASSADOR_CERT_FILE: ca.clientCertFile,
          AMBASSADOR_KEY_FILE: ca.clientKeyFile,
        }),
        files,
      ),
    ).not.toThrow();
  });
});

describe('config file', () => {
  const parse = (text: string) => parseConfigFile(text, 'amb.yaml', defaults(), noFiles);

  it('reads listeners, routes and pools, with defaults filled in', () => {
    const c = parseConfigFile(
      readFileSync(new URL('../testdata/full.yaml', import.meta.url), 'utf8'),
      'full.yaml',
      defaults(),
      // The test CA stands in for the file the config names (relative to the config file).
      (p) => `# from ${p}\n${makeTestCa().ca}`,
    );
    expect(c.listeners.map((l) => [l.name, l.protocol, l.port])).toEqual([
      ['web', 'http', 8000],
      ['redis', 'tcp', 6379],
    ]);
    expect(c.listeners[0]!.routes).toEqual([
      { host: 'api.example.com', pathPrefix: '/v1', rewritePrefix: '/', pool: 'api' },
      { host: undefined, pathPrefix: '/', rewritePrefix: undefined, pool: 'web' },
    ]);
    const api = c.pools.get('api')!;
    expect(api.balance).toBe('least-requests');
    expect(api.hostHeader).toBe('upstream');
    expect(c.pools.get('web')!.hostHeader).toBe('keep');
    expect(api.upstreams).toEqual([
      { url: 'https://api-1.example.com:443', weight: 2, maxInFlight: 100 },
      { url: 'https://api-2.example.com:443', weight: 1, maxInFlight: 0 },
    ]);
    expect(api.healthCheck).toEqual({
      type: 'http',
      path: '/healthz',
      interval: 2000,
      timeout: 500,
      rise: 2,
      fall: 3,
    });
    expect(api.tls.ca).toMatch(/^# from .*ca\.pem\n-----BEGIN CERTIFICATE-----/);
    expect(api.readTimeout).toBe(10_000);
    expect(c.pools.get('redis')!.healthCheck?.type).toBe('tcp');
  });

  it('names the line and the field of each problem', () => {
    const text = `listeners:
  - name: web
    port: 8000
    routes:
      - pool: missing
pools:
  web:
    upstreams:
      - url: http://127.0.0.1:8080
        weight: 0
    timeouts: { connect: soon }
`;
    let err: unknown;
    try {
      parse(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigFileError);
    const lines = (err as Error).message.split('\n');
    expect(lines).toContain(
      'amb.yaml:10 pools.web.upstreams[0].weight: Too small: expected number to be >=1',
    );
    expect(
      lines.some((l) => l.startsWith('amb.yaml:11 pools.web.timeouts.connect: "soon" is not a duration')),
    ).toBe(true);
  });

  it('checks references between listeners and pools', () => {
    expect(() =>
      parse(`listeners: [{ name: web, port: 1, routes: [{ pool: nope }] }]
pools: { web: { upstreams: [http://a:1] } }`),
    ).toThrow(/amb.yaml:1 listeners\[0\].routes\[0\].pool: no pool named "nope" \(have: web\)/);
    expect(() =>
      parse(`listeners:
  - { name: db, port: 1, protocol: tcp, pool: web }
pools: { web: { upstreams: [http://a:1] } }`),
    ).toThrow(/amb.yaml:2 listeners\[0\].pool: pool "web" has http/);
    expect(() =>
      parse(
        `listeners: [{ name: a, port: 1, pool: p }, { name: a, port: 1, pool: p }]\npools: { p: { upstreams: [http://a:1] } }`,
      ),
    ).toThrow(/used twice/);
  });

  it('refuses a route prefix that no normalised request path could match', () => {
    for (const prefix of ['/a/../b', '/a/./b', '/%7Eu', '/a%2fb', '/a?x'])
      expect(
        () =>
          parse(`listeners: [{ name: web, port: 1, routes: [{ pathPrefix: "${prefix}", pool: p }] }]
pools: { p: { upstreams: [http://a:1] } }`),
        prefix,
      ).toThrow(/amb.yaml:1 listeners\[0\].routes\[0\].pathPrefix: .*(normalised|query)/);
    expect(() =>
      parse(`listeners: [{ name: web, port: 1, routes: [{ pathPrefix: "/a%2Fb/", pool: p }] }]
pools: { p: { upstreams: [http://a:1] } }`),
    ).not.toThrow();
  });

  it('refuses header policies that touch framing headers or name unknown variables', () => {
    const withHeaders = (h: string) =>
      parse(
        `listeners: [{ name: web, port: 1, pool: p }]\npools: { p: { upstreams: [http://a:1], headers: ${h} } }`,
      );
    expect(() => withHeaders('{ request: { set: { Content-Length: "0" } } }')).toThrow(
      /amb.yaml:2 pools.p.headers.request.set.Content-Length: "Content-Length" belongs to the proxy/,
    );
    expect(() => withHeaders(`{ request: { set: { X-A: "\${secret}" } } }`)).toThrow(
      /unknown variable \$\{secret\}/,
    );
    expect(() => withHeaders('{ response: { remove: ["bad name"] } }')).toThrow(/is not a header name/);
    expect(() => withHeaders(`{ request: { add: { X-A: "\${client_ip}" } } }`)).not.toThrow();
  });

  it('refuses durations no timer can wait (over 596h)', () => {
    expect(() =>
      parse(
        `listeners: [{ name: web, port: 1, pool: p }]\npools: { p: { upstreams: [http://a:1], timeouts: { read: 30d } } }`,
      ),
    ).toThrow(/amb.yaml:2 pools.p.timeouts.read: "30d" is longer than 596h31m23s647ms|not a duration/);
    expect(() =>
      parse(
        `listeners: [{ name: web, port: 1, pool: p }]\npools: { p: { upstreams: [http://a:1], timeouts: { read: 2200000000 } } }`,
      ),
    ).toThrow(/pools.p.timeouts.read: 2200000000 is longer than 596h31m23s647ms/);
    expect(() => load({ AMBASSADOR_EJECT_TIME: '100h' })).toThrow(/AMBASSADOR_EJECT_TIME/);
  });

  it('reports unknown keys and YAML syntax errors with their line', () => {
    expect(() => parse(`listeners: []\npools: {}\nlisteners2: 1\n`)).toThrow(/amb.yaml:\d+ .*listeners2/);
    expect(() => parse(`listeners:\n  - name: [unclosed\n`)).toThrow(/amb.yaml:\d+ YAML:/);
  });

  it('names a TLS file it cannot read', () => {
    expect(() =>
      parse(`listeners: [{ name: w, port: 1, pool: p }]
pools:
  p:
    upstreams: [https://a:443]
    tls: { caFile: /nope/ca.pem }`),
    ).toThrow(/amb.yaml:5 pools.p.tls.caFile: cannot read \/nope\/ca.pem/);
  });
});
