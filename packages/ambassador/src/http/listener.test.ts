// The HTTP listener against real upstream servers on 127.0.0.1: balancing, failures, retries,
// headers, and what it refuses.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { type AddressInfo, connect, createServer as createNetServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  get,
  metricValue,
  type Origin,
  refusedPort,
  startAmbassador,
  startNamedOrigin,
  startOrigin,
  type TestAmbassador,
  waitFor,
} from '../test-helpers.ts';

const running: { stop(): Promise<void> }[] = [];
const origins: Origin[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.stop()));
  await Promise.all(origins.splice(0).map((o) => o.close()));
});

async function origin(o: Promise<Origin>): Promise<Origin> {
  const x = await o;
  origins.push(x);
  return x;
}
async function ambassador(env: Record<string, string>): Promise<TestAmbassador> {
  const a = await startAmbassador(env);
  running.push(a);
  return a;
}
function count(bodies: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const b of bodies) out[b] = (out[b] ?? 0) + 1;
  return out;
}

describe('HTTP listener', () => {
  describe('balancing', () => {
    it('spreads requests round-robin over the pool', async () => {
      const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => origin(startNamedOrigin(n))));
      const amb = await ambassador({
        AMBASSADOR_UPSTREAMS: [a!, b!, c!].map((o) => o.url).join(','),
      });
      const bodies: string[] = [];
      for (let i = 0; i < 30; i++) bodies.push((await get(`${amb.url}/`)).body);
      expect(count(bodies)).toEqual({ a: 10, b: 10, c: 10 });
      expect(bodies.slice(0, 3).sort()).toEqual(['a', 'b', 'c']);
    });

    it('ambassador_upstream_in_flight counts the requests under way to each upstream', async () => {
      const held: (() => void)[] = [];
      const slow = await origin(startOrigin((_req, res) => held.push(() => res.end('slow'))));
      const idle = await origin(startNamedOrigin('idle'));
      const amb = await ambassador({
        AMBASSADOR_CONFIG: (
          await import('../test-files.ts').then((m) =>
            m.writeConfig(`
  listeners:
    - { name: web, port: 0, routes: [{ pathPrefix: /slow, pool: slow }, { pool: idle }] }
  pools:
    slow: { upstreams: [${slow.url}] }
    idle: { upstreams: [${idle.url}] }
  `),
          )
        ).file,
      });
      const inFlight = (pool: string, upstream: string) =>
        metricValue(amb, 'ambassador_upstream_in_flight', { pool, upstream });
      expect(await inFlight('slow', slow.url)).toBe(0);
      const pending = [1, 2, 3].map(() => get(`${amb.url}/slow`));
      await waitFor('three requests held by the slow origin', () => held.length === 3);
      expect(await inFlight('slow', slow.url)).toBe(3);
      expect(await inFlight('idle', idle.url)).toBe(0);
      for (const release of held) release();
      expect((await Promise.all(pending)).map((r) => r.body)).toEqual(['slow', 'slow', 'slow']);
      expect(await inFlight('slow', slow.url)).toBe(0);
    });

    it('honours weights from the config file', async () => {
      const [a, b] = await Promise.all(['a', 'b'].map((n) => origin(startNamedOrigin(n))));
      const { file } = await import('../test-files.ts').then((m) =>
        m.writeConfig(`
  listeners:
    - { name: web, port: 0, routes: [{ pool: app }] }
  pools:
    app:
      upstreams:
        - { url: ${a!.url}, weight: 3 }
        - { url: ${b!.url}, weight: 1 }
  `),
      );
      const amb = await ambassador({ AMBASSADOR_CONFIG: file });
      const bodies: string[] = [];
      for (let i = 0; i < 40; i++) bodies.push((await get(`${amb.url}/`)).body);
      expect(count(bodies)).toEqual({ a: 30, b: 10 });
    });

    it('least-requests sends new requests away from a slow upstream', async () => {
      const slow = await origin(startOrigin((_req, res) => setTimeout(() => res.end('slow'), 400)));
      const fast = await origin(startNamedOrigin('fast'));
      const amb = await ambassador({
        AMBASSADOR_UPSTREAMS: `${slow.url},${fast.url}`,
        AMBASSADOR_BALANCE: 'least-requests',
      });
      // One request holds the slow upstream; the next ones, sent while it is busy, all go to the fast one.
      const pending = get(`${amb.url}/`);
      await waitFor('the slow upstream to be busy', () => slow.hits === 1);
      const bodies: string[] = [];
      for (let i = 0; i < 10; i++) bodies.push((await get(`${amb.url}/`)).body);
      expect(count(bodies)).toEqual({ fast: 10 });
      expect((await pending).body).toBe('slow');
    });

    it('answers 503 at once when every upstream is at its in-flight limit', async () => {
      let release = () => {};
      const held = new Promise<void>((r) => (release = r));
      const o = await origin(startOrigin((_req, res) => void held.then(() => res.end('done'))));
      const amb = await ambassador({
        AMBASSADOR_UPSTREAMS: o.url,
        AMBASSADOR_MAX_IN_FLIGHT: '1',
      });
      const first = get(`${amb.url}/`);
      await waitFor('the first request to reach the origin', () => o.hits === 1);
      const second = await get(`${amb.url}/`);
      expect(second.status).toBe(503);
      expect(second.body).toMatch(/in-flight limit/);
      release();
      expect((await first).status).toBe(200);
    });
  });

  describe('failures', () => {
    it('connection refused → 502 with a short reason', async () => {
      const amb = await ambassador({
        AMBASSADOR_UPSTREAMS: `http://127.0.0.1:${await refusedPort()}`,
      });
      const r = await get(`${amb.url}/x`);
      expect(r.status).toBe(502);
      expect(r.headers['content-type']).toMatch(/^text\/plain/);
      expect(r.body).toBe('502 bad gateway: the upstream refused the connection\n');
      expect(await metricValue(amb, 'ambassador_requests_total', { code: '502' })).toBe(1);
    });

    it('an upstream that does not answer in time → 504, never a hang', async () => {
      const o = await origin(startOrigin(() => {}));
      const amb = await ambassador({
        AMBASSADOR_UPSTREAMS: o.url,
        AMBASSADOR_READ_TIMEOUT: '200ms',
      });
      const t0 = Date.now();
      const r = await get(`${amb.url}/`);
      expect(r.status).toBe(504);
      expect(r.body).toMatch(/did not answer in time/);
      expect(Date.now() - t0).toBeLessThan(3000);
    });

    it('an upstream that never completes the TCP handshake → 504 after the connect timeout', async () => {
      // A listener whose process then blocks (no CPU used): once its accept queue (backlog 1) is
      // full, the kernel drops new SYNs, so a connect hangs as it would to a vanished host.
      const child = spawn(
        process.execPath,
        [
          '-e',
          "const s=require('net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{console.log(s.address().port);setTimeout(()=>Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0),100)})",
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      try {
        const [line] = (await once(child.stdout!, 'data')) as [Buffer];
        const port = Number(line.toString().trim());
        await new Promise((r) => setTimeout(r, 300));
        const fillers = Array.from({ length: 4 }, () => connect(port, '127.0.0.1').on('error', () => {}));
        await new Promise((r) => setTimeout(r, 200));
        const amb = await ambassador({
          AMBASSADOR_UPSTREAMS: `http://127.0.0.1:${port}`,
          AMBASSADOR_CONNECT_TIMEOUT: '300ms',
        });
        const t0 = Date.now();
        const r = await get(`${amb.url}/`);
        expect(r.status).toBe(504);
        expect(r.body).toBe('504 gateway timeout: connecting to the upstream timed out\n');
        expect(Date.now() - t0).toBeLessThan(3000);
        for (const f of fillers) f.destroy();
      } finally {
        child.kill('SIGKILL');
      }
    });

    it('an empty pool answers 503 at once', async () => {
      const { file } = await import('../test-files.ts').then((m) =>
        m.writeConfig(`
  listeners: [{ name: web, port: 0, pool: app }]
  pools:
    app:
      upstreams: [http://127.0.0.1:${'1'}]
      healthCheck: { type: tcp, interval: 20ms, fall: 1, timeout: 100ms }
  `),
      );
      const amb = await ambassador({ AMBASSADOR_CONFIG: file });
      await waitFor(
        'the upstream to be marked down',
        async () => (await metricValue(amb, 'ambassador_upstream_up')) === 0,
      );
      const t0 = Date.now();
      const r = await get(`${amb.url}/`);
      expect(r.status).toBe(503);
      expect(r.body).toMatch(/no healthy upstream in pool "app"/);
      expect(Date.now() - t0).toBeLessThan(500);
    });

    it('an upstream killed mid-response: the client sees a broken response and the proxy lives on', async () => {
      const o = await origin(
        startOrigin((req, res) => {
          if (req.url === '/ok') return res.end('fine');
          res.writeHead(200, { 'content-length': '1000000' });
          res.write(Buffer.alloc(1000, 'x'));
          setTimeout(() => req.socket.destroy(), 50);
        }),
      );
      const amb = await ambassador({ AMBASSADOR_UPSTREAMS: o.url });
      await expect(get(`${amb.url}/big`)).rejects.toThrow(/aborted|socket hang up|ECONNRESET/);
      const after = await get(`${amb.url}/ok`);
      expect(after.body).toBe('fine');
      await waitFor('the access log entry', () =>
        amb.access.some((e) => e.error === 'upstream closed mid-response'),
      );
    });

    it('retries a GET on another upstream; a POST only when it never reached one', async () => {
      const dead = `http://127.0.0.1:${await refusedPort()}`;
      const live = await origin(startOrigin((req, res) => res.end(`${req.method} ok`)));
      const amb = await ambassador({
        AMBASSADOR_UPSTREAMS: `${dead},${live.url}`,
        AMBASSADOR_EJECT_AFTER: '0',
      });
      const gets = await Promise.all([get(`${amb.url}/`), get(`${amb.url}/`)]);
      expect(gets.map((r) => r.status)).toEqual([200, 200]);
      expect(await metricValue(amb, 'ambassador_retries_total')).toBe(1);

      // A refused connection: the POST never left, so it goes to the other upstream.
      const posts: number[] = [];
      for (let i = 0; i < 2; i++)
        posts.push((await get(`${amb.url}/`, { method: 'POST', body: 'data' })).status);
      expect(posts).toEqual([200, 200]);
      expect(await metricValue(amb, 'ambassador_retries_total')).toBe(2);
    });

    it('never retries a POST an upstream may have received', async () => {
      // This one reads the request, then drops the connection without answering.
      const rude = await origin(startOrigin((req) => req.on('end', () => req.socket.destroy()).resume()));
      const live = await origin(startOrigin((req, res) => res.end(`${req.method} ok`)));
      const amb = await ambassador({
        AMBASSADOR_UPSTREAMS: `${rude.url},${live.url}`,
        AMBASSADOR_EJECT_AFTER: '0',
      });
      const posts: number[] = [];
      for (let i = 0; i < 2; i++)
        posts.push((await get(`${amb.url}/`, { method: 'POST', body: 'data' })).status);
      expect(posts.sort()).toEqual([200, 502]);
      expect(await metricValue(amb, 'ambassador_retries_total')).toBe(0);
      const gets = await Promise.all([get(`${amb.url}/`), get(`${amb.url}/`)]);
      expect(gets.map((r) => r.status)).toEqual([200, 200]);
      expect(await metricValue(amb, 'ambassador_retries_total')).toBe(1);
    });

    it('ejects an upstream after consecutive failures and takes it back after the ejection time', async () => {
      let broken = true;
      const flaky = await origin(
        startOrigin((_req, res) => {
          res.statusCode = broken ? 503 : 200;
          res.end(broken ? 'down' : 'flaky');
        }),
      );
      const good = await origin(startNamedOrigin('good'));
      const amb = await ambassador({
        AMBASSADOR_UPSTREAMS: `${flaky.url},${good.url}`,
        AMBASSADOR_EJECT_AFTER: '2',
        AMBASSADOR_EJECT_TIME: '1s',
        AMBASSADOR_RETRIES: '0',
      });
      for (let i = 0; i < 4; i++) await get(`${amb.url}/`); // two 503s from flaky
      expect(await metricValue(amb, 'ambassador_ejections_total')).toBe(1);
      const during: string[] = [];
      for (let i = 0; i < 6; i++) during.push((await get(`${amb.url}/`)).body);
      expect(count(during)).toEqual({ good: 6 });
      broken = false;
      await waitFor(
        'the ejection to end',
        async () => (await metricValue(amb, 'ambassador_upstream_up')) === 2,
      );
      const after: string[] = [];
      for (let i = 0; i < 4; i++) after.push((await get(`${amb.url}/`)).body);
      expect(count(after)).toEqual({ flaky: 2, good: 2 });
    });

    it('health checks take an upstream out after fall failures and back after rise passes', async () => {
      let healthy = true;
      const a = await origin(
        startOrigin((req, res) => {
          if (req.url === '/healthz') res.statusCode = healthy ? 200 : 500;
          res.end('a');
        }),
      );
      const b = await origin(startNamedOrigin('b'));
      const amb = await ambassador({
        AMBASSADOR_UPSTREAMS: `${a.url},${b.url}`,
        AMBASSADOR_HEALTH_CHECK: '/healthz',
        AMBASSADOR_HEALTH_CHECK_INTERVAL: '30ms',
        AMBASSADOR_HEALTH_CHECK_FALL: '2',
        AMBASSADOR_HEALTH_CHECK_RISE: '3',
      });
      const up = () => metricValue(amb, 'ambassador_upstream_up', { upstream: a.url });
      expect(await up()).toBe(1);
      healthy = false;
      await waitFor('a to fall', async () => (await up()) === 0);
      const bodies: string[] = [];
      for (let i = 0; i < 4; i++) bodies.push((await get(`${amb.url}/`)).body);
      expect(count(bodies)).toEqual({ b: 4 });
      healthy = true;
      await waitFor('a to rise', async () => (await up()) === 1);
    });
  });

  describe('headers', () => {
    let amb: TestAmbassador;
    let seen: Record<string, string | string[] | undefined>;
    let o: Origin;
    beforeAll(async () => {
      o = await startOrigin((req, res) => {
        seen = req.headers;
        res.setHeader('keep-alive', 'timeout=5');
        res.setHeader('x-private', 'hop');
        res.setHeader('connection', 'x-private');
        res.end('ok');
      });
      amb = await startAmbassador({ AMBASSADOR_UPSTREAMS: o.url });
    });
    afterAll(async () => {
      await amb.stop();
      await o.close();
    });

    it('replaces untrusted X-Forwarded-* and sets them from the connection', async () => {
      await get(`${amb.url}/`, {
        headers: {
          'x-forwarded-for': '6.6.6.6',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'evil',
          host: 'app.local',
        },
      });
      expect(seen['x-forwarded-for']).toBe('127.0.0.1');
      expect(seen['x-forwarded-proto']).toBe('http');
      expect(seen['x-forwarded-host']).toBe('app.local');
      expect(seen.host).toBe('app.local');
    });

    it('strips hop-by-hop headers both ways, including those named by Connection', async () => {
      const r = await get(`${amb.url}/`, {
        headers: {
          connection: 'keep-alive, x-secret',
          'x-secret': '1',
          'proxy-authorization': 'Basic x',
          te: 'trailers',
        },
      });
      expect(seen['x-secret']).toBeUndefined();
      expect(seen['proxy-authorization']).toBeUndefined();
      expect(seen.te).toBeUndefined();
      expect(r.headers['x-private']).toBeUndefined();
      // The upstream's own Keep-Alive is not passed on; Node states the ambassador's (65 s).
      expect(r.headers['keep-alive']).not.toBe('timeout=5');
      expect(r.body).toBe('ok');
    });
  });

  describe('trusted forwarding', () => {
    it('appends to X-Forwarded-For when told to trust it', async () => {
      let xff: unknown;
      const o = await origin(
        startOrigin((req, res) => {
          xff = req.headers['x-forwarded-for'];
          res.end('ok');
        }),
      );
      const amb = await ambassador({
        AMBASSADOR_UPSTREAMS: o.url,
        AMBASSADOR_TRUST_FORWARDED: 'true',
      });
      await get(`${amb.url}/`, { headers: { 'x-forwarded-for': '10.1.2.3' } });
      expect(xff).toBe('10.1.2.3, 127.0.0.1');
    });
  });

  describe('host header and expect', () => {
    it("keeps the client's Host by default, sends the upstream's own with hostHeader upstream", async () => {
      let host: string | undefined;
      const o = await origin(
        startOrigin((req, res) => {
          host = req.headers.host;
          res.end('ok');
        }),
      );
      const keep = await ambassador({ AMBASSADOR_UPSTREAMS: o.url });
      await get(`${keep.url}/`, { headers: { host: 'localhost:8000' } });
      expect(host).toBe('localhost:8000');
      const upstream = await ambassador({
        AMBASSADOR_UPSTREAMS: o.url,
        AMBASSADOR_HOST_HEADER: 'upstream',
      });
      await get(`${upstream.url}/`, { headers: { host: 'localhost:8000' } });
      expect(host).toBe(`127.0.0.1:${o.port}`);
    });

    it('answers Expect: 100-continue itself and sends the body upstream without it', async () => {
      let seen: { expect?: string; body: string } | undefined;
      const o = await origin(
        startOrigin((req, res) => {
          let body = '';
          req.on('data', (c) => (body += c));
          req.on('end', () => {
            seen = { expect: req.headers.expect, body };
            res.end('got it');
          });
        }),
      );
      const amb = await ambassador({
        AMBASSADOR_UPSTREAMS: o.url,
        AMBASSADOR_READ_TIMEOUT: '2s',
      });
      const r = await new Promise<string>((resolve, reject) => {
        const req = request(`${amb.url}/up`, {
          method: 'POST',
          agent: false,
          headers: { expect: '100-continue', 'content-length': 5 },
        });
        req.on('continue', () => req.end('hello'));
        req.on('response', (res) => {
          let b = '';
          res.on('data', (c) => (b += c));
          res.on('end', () => resolve(`${res.statusCode} ${b}`));
        });
        req.on('error', reject);
      });
      expect(r).toBe('200 got it');
      expect(seen).toEqual({ expect: undefined, body: 'hello' });
    });
  });

  describe('routes', () => {
    it('routes by host and path prefix, rewriting the prefix', async () => {
      const api = await origin(startOrigin((req, res) => res.end(`api ${req.url}`)));
      const web = await origin(startOrigin((req, res) => res.end(`web ${req.url}`)));
      const { file } = await import('../test-files.ts').then((m) =>
        m.writeConfig(`
  listeners:
    - name: web
      port: 0
      routes:
        - { host: api.example.com, pathPrefix: /v1, rewritePrefix: /, pool: api }
        - { pathPrefix: /api, rewritePrefix: /internal, pool: api }
        - { pool: web }
  pools:
    api: { upstreams: [${api.url}] }
    web: { upstreams: [${web.url}] }
  `),
      );
      const amb = await ambassador({ AMBASSADOR_CONFIG: file });
      expect((await get(`${amb.url}/v1/users?x=1`, { headers: { host: 'api.example.com:8000' } })).body).toBe(
        'api /users?x=1',
      );
      expect((await get(`${amb.url}/api/users`)).body).toBe('api /internal/users');
      expect((await get(`${amb.url}/apix`)).body).toBe('web /apix');
      expect((await get(`${amb.url}/v1/users`)).body).toBe('web /v1/users');
    });
  });

  describe('routes match the normalised path', () => {
    let amb: TestAmbassador;
    let pub: Origin;
    const seen: string[] = [];
    beforeAll(async () => {
      pub = await startOrigin((req, res) => {
        seen.push(req.url ?? '');
        res.end('public');
      });
      const { file } = await import('../test-files.ts').then((m) =>
        m.writeConfig(`
  listeners:
    - name: web
      port: 0
      routes:
        - { pathPrefix: /public, pool: public }
        - { pathPrefix: /static/, rewritePrefix: /assets/, pool: public }
  pools:
    public: { upstreams: [${pub.url}] }
  `),
      );
      amb = await startAmbassador({ AMBASSADOR_CONFIG: file });
    });
    afterAll(async () => {
      await amb.stop();
      await pub.close();
    });

    /** Sends the target byte for byte (no client-side normalisation) and returns the status. */
    function status(target: string): Promise<number> {
      return new Promise((resolve, reject) => {
        const s = connect(amb.port, '127.0.0.1', () =>
          s.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
        );
        let out = '';
        s.setEncoding('utf8');
        s.on('data', (d) => (out += d));
        s.on('end', () => resolve(Number(out.slice(9, 12))));
        s.on('error', reject);
      });
    }

    // Every way to spell "go up one level" that an upstream would resolve.
    const dots = ['..', '%2e%2e', '%2E%2E', '.%2e', '%2e.'];
    const here = ['', './', '%2e/', './/'];
    const variants = dots.flatMap((d) =>
      here.flatMap((h) => [
        `/public/${h}${d}/admin`,
        `/public/x/${h}${d}/${d}/admin`,
        `/static/${h}${d}/admin`,
      ]),
    );

    it('never lets a dot segment carry a request out of the route it matched', async () => {
      seen.length = 0;
      for (const v of variants) {
        const code = await status(v);
        // `/public/.//../admin` is `/public/admin` (the empty segment is the one removed): in the route.
        if (v.includes('//')) expect([200, 404], v).toContain(code);
        else expect(code, v).toBe(404);
      }
      for (const p of seen) expect(p).toMatch(/^\/(public|assets)\/(?!.*\/\.\.?(\/|$))/);
      expect(seen.length).toBeGreaterThan(0);
    });

    it('forwards the normalised path when it stays inside the route', async () => {
      seen.length = 0;
      expect(await status('/public/a/../b')).toBe(200);
      expect(await status('/public/%2e/c?q=/../x')).toBe(200);
      expect(await status('/static/css/%2e%2e/app.css')).toBe(200);
      expect(await status('/public/a%2Fb')).toBe(200); // an escaped slash is not a separator
      expect(seen).toEqual(['/public/b', '/public/c?q=/../x', '/assets/app.css', '/public/a%2Fb']);
    });

    it('answers 400 to paths an upstream could read differently', async () => {
      seen.length = 0;
      for (const bad of ['/public/..;/admin', '/public/%zz', '/public\\..\\admin', '/public/..%2Fadmin'])
        expect(await status(bad), bad).toBe(400);
      expect(seen).toEqual([]);
    });
  });

  describe('header policy and request ids', () => {
    let amb: TestAmbassador;
    let seen: Record<string, string | string[] | undefined> = {};
    let o: Origin;
    beforeAll(async () => {
      o = await startOrigin((req, res) => {
        seen = req.headers;
        res.setHeader('server', 'legacy/1.0');
        res.setHeader('x-powered-by', 'php');
        res.end('ok');
      });
      const { file } = await import('../test-files.ts').then((m) =>
        m.writeConfig(`
  listeners:
    - name: web
      port: 0
      routes:
        - pathPrefix: /api
          pool: app
          headers:
            request: { set: { X-Tier: api }, remove: [X-Debug] }
            response: { set: { Cache-Control: no-store } }
        - { pool: app }
  pools:
    app:
      upstreams: [${o.url}]
      headers:
        request:
          set: { X-Tier: web, X-Client: "\${client_ip} via \${scheme}", X-Trace: "req-\${request_id}" }
          add: { Via: 1.1 ambassador }
        response:
          set: { Strict-Transport-Security: max-age=63072000 }
          remove: [Server, X-Powered-By]
  `),
      );
      amb = await startAmbassador({ AMBASSADOR_CONFIG: file });
    });
    afterAll(async () => {
      await amb.stop();
      await o.close();
    });

    it("applies the pool's, then the route's, on requests and responses", async () => {
      const r = await get(`${amb.url}/page`, { headers: { 'x-debug': '1', via: '1.0 client' } });
      expect(seen['x-tier']).toBe('web');
      expect(seen['x-client']).toBe('127.0.0.1 via http');
      expect(seen['x-trace']).toBe(`req-${seen['x-request-id']}`);
      expect(seen.via).toBe('1.0 client, 1.1 ambassador');
      expect(seen['x-debug']).toBe('1');
      expect(r.headers['strict-transport-security']).toBe('max-age=63072000');
      expect(r.headers.server).toBeUndefined();
      expect(r.headers['x-powered-by']).toBeUndefined();
      const api = await get(`${amb.url}/api/x`, { headers: { 'x-debug': '1' } });
      expect(seen['x-tier']).toBe('api');
      expect(seen['x-debug']).toBeUndefined();
      expect(api.headers['cache-control']).toBe('no-store');
      expect(api.headers['strict-transport-security']).toBe('max-age=63072000');
    });

    it('gives a request an X-Request-Id, keeps a sane one it was given, and logs it', async () => {
      await get(`${amb.url}/id`);
      const generated = seen['x-request-id'] as string;
      expect(generated).toMatch(/^[0-9a-f-]{36}$/);
      await get(`${amb.url}/id`, { headers: { 'x-request-id': 'abc-123' } });
      expect(seen['x-request-id']).toBe('abc-123');
      await get(`${amb.url}/id`, { headers: { 'x-request-id': 'bad id with spaces' } });
      expect(seen['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      await waitFor('the access log lines', () => amb.access.filter((e) => e.path === '/id').length === 3);
      expect(amb.access.filter((e) => e.path === '/id').map((e) => e.requestId)).toEqual([
        generated,
        'abc-123',
        seen['x-request-id'],
      ]);
    });
  });

  describe('hardening', () => {
    let amb: TestAmbassador;
    let o: Origin;
    let seen: { url: string; headers: Record<string, string | string[] | undefined> }[] = [];
    beforeAll(async () => {
      o = await startOrigin((req, res) => {
        seen.push({ url: req.url ?? '', headers: req.headers });
        res.end('ok');
      });
      amb = await startAmbassador({ AMBASSADOR_UPSTREAMS: o.url });
    });
    afterAll(async () => {
      await amb.stop();
      await o.close();
    });

    function raw(text: string): Promise<string> {
      return new Promise((resolve, reject) => {
        const s = connect(amb.port, '127.0.0.1', () => s.write(text));
        let out = '';
        s.setEncoding('utf8');
        s.on('data', (d) => (out += d));
        s.on('end', () => resolve(out));
        s.on('error', reject);
        s.setTimeout(3000, () => {
          s.destroy();
          resolve(`${out}\n(timeout)`);
        });
      });
    }

    it('replaces the whole forwarding family a client sends, not only X-Forwarded-For/-Proto/-Host', async () => {
      seen = [];
      await get(`${amb.url}/f`, {
        headers: {
          forwarded: 'for=6.6.6.6;proto=https',
          'x-real-ip': '6.6.6.6',
          'x-forwarded-port': '443',
          'x-forwarded-prefix': '/evil',
          'x-forwarded-server': 'evil',
        },
      });
      const h = seen[0]!.headers;
      expect(h.forwarded).toBeUndefined();
      expect(h['x-forwarded-prefix']).toBeUndefined();
      expect(h['x-forwarded-server']).toBeUndefined();
      expect(h['x-real-ip']).toBe('127.0.0.1');
      expect(h['x-forwarded-port']).toBe(String(amb.port));
    });

    it('answers a request with Upgrade: h2c (curl --http2) as HTTP/1.1, and logs it', async () => {
      const before = amb.access.length;
      const r = await raw(
        'GET /h2c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
      );
      expect(r).toMatch(/^HTTP\/1.1 200 /);
      expect(r).toMatch(/\r\n\r\nok$/);
      await waitFor('the access log line', () => amb.access.slice(before).some((e) => e.path === '/h2c'));
      expect(seen.at(-1)!.headers.upgrade).toBeUndefined();
    });

    it('refuses a transfer coding other than chunked with 501, before any upstream sees it', async () => {
      const hits = o.hits;
      const r = await raw(
        'POST /te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
      );
      expect(r).toMatch(/^HTTP\/1.1 501 /);
      expect(o.hits).toBe(hits);
    });

    it('refuses two Host headers (400) and versions other than HTTP/1.x (505)', async () => {
      const hits = o.hits;
      expect(await raw('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')).toMatch(/^HTTP\/1.1 400 /);
      expect(await raw('GET / HTTP/2.0\r\nHost: a\r\n\r\n')).toMatch(/^HTTP\/1.1 505 /);
      expect(await raw('GET / HTTP/1.2\r\nHost: a\r\n\r\n')).toMatch(/^HTTP\/1.1 505 /);
      expect(o.hits).toBe(hits);
    });

    it('accepts an absolute-form target naming the listener itself', async () => {
      seen = [];
      const r = await raw(
        `GET http://127.0.0.1:${amb.port}/self?q=1 HTTP/1.1\r\nHost: 127.0.0.1:${amb.port}\r\nConnection: close\r\n\r\n`,
      );
      expect(r).toMatch(/^HTTP\/1.1 200 /);
      expect(seen[0]!.url).toBe('/self?q=1');
      const other = await raw(
        `GET http://127.0.0.1:1/x HTTP/1.1\r\nHost: 127.0.0.1:1\r\nConnection: close\r\n\r\n`,
      );
      expect(other).toMatch(/^HTTP\/1.1 400 /);
    });
  });

  describe('failure answers', () => {
    it('answers a malformed upstream response with 502 in words, never a parser code', async () => {
      const bad = createNetServer((sock) => sock.once('data', () => sock.end('HTTP/1.1 2OO Fine\r\n\r\n')));
      bad.listen(0, '127.0.0.1');
      await once(bad, 'listening');
      const amb = await ambassador({
        AMBASSADOR_UPSTREAMS: `http://127.0.0.1:${(bad.address() as AddressInfo).port}`,
      });
      const r = await get(`${amb.url}/`);
      expect(r.status).toBe(502);
      expect(r.body).toBe('502 bad gateway: the upstream sent a malformed response\n');
      expect(r.body).not.toMatch(/HPE_/);
      bad.close();
    });
  });

  describe("an upstream's own 503s", () => {
    // web answers 503 while it has no content yet; the ambassador in front must not keep answering
    // 503 once web is ready, nor let one path's 503s take every path down.
    it('do not eject it while its active checks pass', async () => {
      let ready = false;
      const app = await origin(
        startOrigin((req, res) => {
          if (req.url === '/healthz') return res.end('ok');
          res.statusCode = ready && req.url !== '/broken' ? 200 : 503;
          res.end(String(res.statusCode));
        }),
      );
      const amb = await ambassador({
        AMBASSADOR_UPSTREAMS: app.url,
        AMBASSADOR_HEALTH_CHECK: '/healthz',
        AMBASSADOR_HEALTH_CHECK_INTERVAL: '50ms',
      });
      for (let i = 0; i < 12; i++) expect((await get(`${amb.url}/page`)).status).toBe(503);
      ready = true;
      expect((await get(`${amb.url}/page`)).status).toBe(200);
      for (let i = 0; i < 12; i++) await get(`${amb.url}/broken`);
      expect((await get(`${amb.url}/page`)).status).toBe(200);
      expect(await metricValue(amb, 'ambassador_ejections_total')).toBe(0);
    });

    it('without active checks, eject it, but never empty the pool', async () => {
      let ready = false;
      const app = await origin(
        startOrigin((_req, res) => {
          res.statusCode = ready ? 200 : 503;
          res.end(String(res.statusCode));
        }),
      );
      const amb = await ambassador({ AMBASSADOR_UPSTREAMS: app.url, AMBASSADOR_EJECT_AFTER: '3' });
      for (let i = 0; i < 10; i++) expect((await get(`${amb.url}/`)).status).toBe(503);
      expect(await metricValue(amb, 'ambassador_ejections_total')).toBeGreaterThan(0);
      ready = true;
      // Ejected, yet the only upstream of its pool: requests still reach it (and it answers 200).
      const r = await get(`${amb.url}/`);
      expect(r.status).toBe(200);
      expect(await metricValue(amb, 'ambassador_panic_requests_total')).toBeGreaterThan(0);
    });
  });

  describe('refusals', () => {
    let amb: TestAmbassador;
    let o: Origin;
    beforeAll(async () => {
      o = await startOrigin((req, res) => res.end(`origin saw ${req.method} ${req.url}`));
      amb = await startAmbassador({ AMBASSADOR_UPSTREAMS: o.url });
    });
    afterAll(async () => {
      await amb.stop();
      await o.close();
    });

    /** Sends raw bytes and returns everything the proxy answers until it closes. */
    function raw(text: string): Promise<string> {
      return new Promise((resolve, reject) => {
        const s = connect(amb.port, '127.0.0.1', () => s.write(text));
        let out = '';
        s.setEncoding('utf8');
        s.on('data', (d) => (out += d));
        s.on('end', () => resolve(out));
        s.on('error', reject);
        s.setTimeout(5000, () => {
          s.destroy();
          resolve(`${out}\n(timeout)`);
        });
      });
    }

    it('is not an open proxy: absolute-form targets to other hosts get 400', async () => {
      const before = o.hits;
      const r = await raw(
        'GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n',
      );
      expect(r).toMatch(/^HTTP\/1.1 400/);
      expect(r).toMatch(/not an open proxy/);
      const c = await raw('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
      expect(c).toMatch(/^HTTP\/1.1 405/);
      expect(o.hits).toBe(before);
    });

    it('refuses smuggling-shaped requests (Content-Length with Transfer-Encoding, duplicate lengths)', async () => {
      const before = o.hits;
      const both = await raw(
        'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
      );
      expect(both).toMatch(/^HTTP\/1.1 400/);
      expect(both).not.toMatch(/smuggled/);
      const twoLengths = await raw(
        'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 30\r\n\r\nabcd',
      );
      expect(twoLengths).toMatch(/^HTTP\/1.1 400/);
      const badTe = await raw(
        'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n',
      );
      expect(badTe).toMatch(/^HTTP\/1.1 400/);
      expect(o.hits).toBe(before);
      expect(await metricValue(amb, 'ambassador_rejected_requests_total', { reason: 'bad_request' })).toBe(3);
    });

    it('still proxies a normal request on a fresh connection afterwards', async () => {
      const r = await raw('GET /fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      expect(r).toMatch(/^HTTP\/1.1 200/);
      expect(r).toMatch(/origin saw GET \/fine/);
    });
  });
});
