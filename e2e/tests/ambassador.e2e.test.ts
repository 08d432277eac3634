// Ambassador pattern. Inbound: clients use port 80, the main container listens on 8775, the
// ambassador (non-root) translates. Inbound TLS: HTTPS from a Secret in front of plain HTTP.
// Outbound: the app calls localhost, the ambassador balances over a headless Service's pods
// (discovered by name) and takes a dead one out.
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { deploy } from '../src/fixture.ts';
import { render } from '../src/render.ts';
import { eventually, get, get200, metricSamples, metricValue } from '../src/wait.ts';

describe('ambassador-inbound', () => {
  const pod = deploy('ambassador/inbound');

  it('becomes Ready; port 80 answers with what the app serves on 8775', async () => {
    const viaAmbassador = await get200(`${pod.current.url('ambassador-inbound', 80)}/fruit.json`);
    const direct = await get200(`${pod.current.url('ambassador-inbound', 8775)}/fruit.json`);
    expect(JSON.parse(viaAmbassador)).toEqual(['apple', 'banana', 'cherry']);
    expect(viaAmbassador).toBe(direct);
    expect(await get200(`${pod.current.url('ambassador-inbound', 80)}/`)).toContain('fruit-service');
  });

  it('binds port 80 as uid 65532 with no capabilities (the pod sysctl, not root)', async () => {
    const status = await pod.current.exec('ambassador-inbound', 'ambassador', [
      '/nodejs/bin/node',
      '-e',
      "const s=require('fs').readFileSync('/proc/self/status','utf8');console.log(/^Uid:.*$/m.exec(s)[0]);console.log(/^CapEff:.*$/m.exec(s)[0])",
    ]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^Uid:\s+65532\s/m);
    expect(status.stdout).toMatch(/^CapEff:\s+0+$/m);
    // Binding port 80 alone proves nothing on kind: containerd already opens every port to
    // non-root processes (ip_unprivileged_port_start=0) in pods that set nothing. The manifest's
    // value, 80, is what shows that the pod's sysctl is the one in force.
    const sysctl = await pod.current.exec('ambassador-inbound', 'ambassador', [
      '/nodejs/bin/node',
      '-e',
      "console.log(require('fs').readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start','utf8').trim())",
    ]);
    expect(sysctl.code).toBe(0);
    expect(sysctl.stdout.trim()).toBe('80');
  });

  it('follows its ConfigMap: a new pool takes effect without a restart, and back', async () => {
    const front = pod.current.url('ambassador-inbound', 80);
    const admin = `${pod.current.url('ambassador-inbound', 9901)}/metrics`;
    const reloads = async () =>
      metricValue(await get200(admin), 'ambassador_config_reloads_total', { result: 'applied' });
    const config = (upstream: string) =>
      [
        'listeners:',
        '  - name: http',
        '    port: 80',
        '    pool: fruit',
        'pools:',
        '  fruit:',
        '    upstreams:',
        `      - ${upstream}`,
        '',
      ].join('\n');
    const deadline = pod.current.configMapDelayMs + 10_000;
    const before = await reloads();
    // Point the pool at a port where nothing listens: the ambassador answers 502/503, never hangs.
    await pod.current.updateConfigMap('ambassador-inbound-config', {
      'ambassador.yaml': config('http://127.0.0.1:9'),
    });
    await eventually(
      async () => {
        const r = await get(`${front}/fruit.json`);
        expect([502, 503]).toContain(r.status);
      },
      { timeoutMs: deadline, what: 'the broken pool in effect' },
    );
    expect(await reloads()).toBeGreaterThan(before);
    await pod.current.updateConfigMap('ambassador-inbound-config', {
      'ambassador.yaml': config('http://127.0.0.1:8775'),
    });
    await eventually(async () => expect(JSON.parse(await get200(`${front}/fruit.json`))).toHaveLength(3), {
      timeoutMs: deadline,
      what: 'the pool restored',
    });
    expect(await pod.current.restartCount('ambassador-inbound', 'ambassador')).toBe(0);
  }, 600_000);

  it('counts the translated requests in its metrics', async () => {
    for (let i = 0; i < 5; i++) await get200(`${pod.current.url('ambassador-inbound', 80)}/`);
    const metrics = await get200(`${pod.current.url('ambassador-inbound', 9901)}/metrics`);
    expect(metricValue(metrics, 'ambassador_requests_total', { code: '200' })).toBeGreaterThanOrEqual(5);
    expect(metricValue(metrics, 'ambassador_upstream_up', { upstream: 'http://127.0.0.1:8775' })).toBe(1);
  });
});

describe('ambassador-outbound', () => {
  const pod = deploy('ambassador/outbound');
  /** What the app container gets when it calls the ambassador on localhost. */
  const call = async () => {
    const r = await pod.current.exec('ambassador-outbound', 'app', [
      'wget',
      '-qO-',
      'http://127.0.0.1:8000/whoami.txt',
    ]);
    if (r.code !== 0) throw new Error(`wget from app failed (${r.code}): ${r.stderr}`);
    return r.stdout.trim();
  };

  it('the app reaches both backends through localhost, balanced over the Service name', async () => {
    const seen = new Map<string, number>();
    const metricsUrl = `${pod.current.url('ambassador-outbound', 9901)}/metrics`;
    await eventually(
      async () => {
        // The pool names one upstream, the headless Service; discovery makes each pod an upstream,
        // and both pass their health checks before the split is even.
        expect(metricValue(await get200(metricsUrl), 'ambassador_upstream_up')).toBe(2);
      },
      { timeoutMs: 60_000, what: 'both backend addresses up' },
    );
    /** Requests per upstream address, as the ambassador counts them. */
    const perAddress = (text: string) => {
      const out = new Map<string, number>();
      for (const [set, value] of metricSamples(text, 'ambassador_requests_total')) {
        const upstream = /upstream="([^"]+)"/.exec(set)?.[1];
        if (upstream) out.set(upstream, (out.get(upstream) ?? 0) + value);
      }
      return out;
    };
    const before = perAddress(await get200(metricsUrl));
    for (let i = 0; i < 12; i++) {
      const who = await call();
      seen.set(who, (seen.get(who) ?? 0) + 1);
    }
    const after = perAddress(await get200(metricsUrl));
    expect([...seen.keys()].sort()).toEqual(['backend-0', 'backend-1']);
    const deltas = [...after].map(([u, n]) => n - (before.get(u) ?? 0));
    expect(deltas).toHaveLength(2);
    expect([...after.keys()].every((u) => /^http:\/\/[\d.]+:8080$/.test(u))).toBe(true);
    // Round-robin: an even split. Counted by the ambassador, since the app's own loop also calls
    // it now and then (every 5 s), which can shift the test's 12 calls by one.
    const [d0 = 0, d1 = 0] = deltas;
    expect(d0 + d1).toBeGreaterThanOrEqual(12);
    expect(Math.abs(d0 - d1)).toBeLessThanOrEqual(1);
  });

  it('a dead backend is taken out: every call succeeds on the other one', async () => {
    await pod.current.deletePod('backend-1');
    const metricsUrl = `${pod.current.url('ambassador-outbound', 9901)}/metrics`;
    await eventually(
      async () => {
        // Down by its health check (podman: the name's address stays), or gone from the Service's
        // DNS (Kubernetes): either way one address is left up.
        expect(metricValue(await get200(metricsUrl), 'ambassador_upstream_up')).toBe(1);
      },
      { timeoutMs: 60_000, what: 'backend-1 out of the pool' },
    );
    const answers: string[] = [];
    for (let i = 0; i < 10; i++) answers.push(await call());
    expect(answers).toEqual(Array(10).fill('backend-0'));
    expect((await get(`${pod.current.url('ambassador-outbound', 9901)}/readyz`)).status).toBe(200);
  });
});

describe('ambassador-inbound-tls', () => {
  const pod = deploy('ambassador/inbound-tls');
  // The demo certificate from the manifest's own Secret: the client trusts exactly it.
  const secret = render('ambassador/inbound-tls').find((o) => o.kind === 'Secret')!;
  const cert = (secret.stringData as Record<string, string>)['tls.crt']!;

  /** GET over HTTPS to the pod's port, verifying the Secret's certificate for `localhost`. */
  const getTls = (url: string) =>
    new Promise<{ status: number; body: string; subject: string }>((resolve, reject) => {
      const u = new URL(url);
      const req = httpsRequest(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          ca: cert,
          servername: 'localhost',
          timeout: 5000,
        },
        (res) => {
          const subject = (res.socket as TLSSocket).getPeerCertificate().subject?.CN as string;
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, subject }));
        },
      );
      req.on('error', reject);
      req.end();
    });

  it('serves HTTPS with the certificate from its Secret, in front of a plain-HTTP app', async () => {
    const url = pod.current.url('ambassador-inbound-tls', 8443).replace(/^http:/, 'https:');
    const r = await eventually(() => getTls(`${url}/`), { timeoutMs: 30_000, what: 'HTTPS answer' });
    expect(r.status).toBe(200);
    expect(r.subject).toBe('ambassador-inbound-tls');
    expect(r.body).toContain('legacy app');
    const metrics = await get200(`${pod.current.url('ambassador-inbound-tls', 9901)}/metrics`);
    expect(metricValue(metrics, 'ambassador_tls_certificate_expiry_timestamp_seconds')).toBeGreaterThan(
      Date.now() / 1000,
    );
  });

  it('answers plain HTTP on 8080 with a redirect to https', async () => {
    const r = await get(`${pod.current.url('ambassador-inbound-tls', 8080)}/page?x=1`, {
      redirect: 'manual',
    });
    expect(r.status).toBe(308);
    expect(r.headers.get('location')).toMatch(/^https:\/\/[^/]+\/page\?x=1$/);
  });
});
