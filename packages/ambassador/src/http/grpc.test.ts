// gRPC through the ambassador with the real gRPC stack (@grpc/grpc-js client and server): every
// kind of call over h2c and h2, deadlines, cancellation both ways, an upstream killed mid-stream,
// failures answered as gRPC statuses, and the grpc.health.v1 check.
import { once } from 'node:events';
import { connect as h2connect } from 'node:http2';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCa } from '../test-ca.ts';
import { writeConfig } from '../test-files.ts';
import { metricValue, refusedPort, startAmbassador, type TestAmbassador, waitFor } from '../test-helpers.ts';

const protoDir = join(import.meta.dirname, '../../testdata/grpc');
const def = loader.loadSync([join(protoDir, 'echo.proto'), join(protoDir, 'health.proto')], {
  keepCase: true,
});
const pkg = grpc.loadPackageDefinition(def) as unknown as {
  multipod: { test: { Echo: grpc.ServiceClientConstructor } };
  grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
};
const Echo = pkg.multipod.test.Echo;
const Health = pkg.grpc.health.v1.Health;
const ca = makeTestCa();

interface Msg {
  text: string;
  n: number;
}

/** A gRPC server on 127.0.0.1 with the echo service; `hooks` lets a test slow or watch calls. */
async function startServer(opts: { tls?: boolean; serving?: (service: string) => boolean } = {}) {
  const server = new grpc.Server();
  const seen = { metadata: [] as grpc.Metadata[], deadlines: [] as grpc.Deadline[], cancelled: 0 };
  server.addService(Echo.service, {
    Unary(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      seen.metadata.push(call.metadata);
      seen.deadlines.push(call.getDeadline());
      if (call.request.text === 'slow') {
        const t = setTimeout(() => cb(null, { text: 'late', n: 0 }), 3000);
        call.on('cancelled', () => {
          seen.cancelled++;
          clearTimeout(t);
        });
        return;
      }
      if (call.request.text === 'fail') return cb({ code: grpc.status.NOT_FOUND, details: 'no such thing' });
      cb(null, { text: `echo ${call.request.text}`, n: call.request.n + 1 });
    },
    ServerStream(call: grpc.ServerWritableStream<Msg, Msg>) {
      call.on('cancelled', () => seen.cancelled++);
      const n = call.request.n;
      let i = 0;
      const tick = () => {
        if (call.cancelled) return;
        if (i >= n) return call.end();
        call.write({ text: call.request.text, n: i++ });
        if (call.request.text === 'slowly') setTimeout(tick, 50);
        else setImmediate(tick);
      };
      tick();
    },
    ClientStream(call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      let sum = 0;
      call.on('data', (m: Msg) => (sum += m.n));
      call.on('end', () => cb(null, { text: 'sum', n: sum }));
    },
    Bidi(call: grpc.ServerDuplexStream<Msg, Msg>) {
      call.on('data', (m: Msg) => call.write({ text: m.text, n: m.n * 2 }));
      call.on('end', () => call.end());
    },
  });
  server.addService(Health.service, {
    Check(
      call: grpc.ServerUnaryCall<{ service: string }, unknown>,
      cb: grpc.sendUnaryData<{ status: string }>,
    ) {
      cb(null, { status: (opts.serving?.(call.request.service) ?? true) ? 'SERVING' : 'NOT_SERVING' });
    },
  });
  const creds = opts.tls
    ? grpc.ServerCredentials.createSsl(null, [
        { cert_chain: Buffer.from(ca.serverCert), private_key: Buffer.from(ca.serverKey) },
      ])
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port, seen, stop: () => server.forceShutdown() };
}

function client(port: number, tls = false): InstanceType<grpc.ServiceClientConstructor> {
  const creds = tls
    ? grpc.credentials.createSsl(Buffer.from(ca.ca), null, null)
    : grpc.credentials.createInsecure();
  return new Echo(
    `127.0.0.1:${port}`,
    creds,
    tls ? { 'grpc.ssl_target_name_override': 'a.example.test' } : {},
  );
}

type Unary = (
  m: Msg,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (e: grpc.ServiceError | null, r?: Msg) => void,
) => grpc.ClientUnaryCall;

function unary(
  c: InstanceType<grpc.ServiceClientConstructor>,
  m: Msg,
  opts: grpc.CallOptions = {},
): Promise<Msg> {
  return new Promise((resolve, reject) =>
    (c.Unary as Unary).call(c, m, new grpc.Metadata(), opts, (e, r) => (e ? reject(e) : resolve(r!))),
  );
}

const running: { stop(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});

async function h2cAmbassador(upstreamPort: number, extra = ''): Promise<TestAmbassador> {
  const { file } = writeConfig(`
listeners:
  - { name: grpc, port: 0, protocol: h2c, pool: app }
pools:
  app:
    upstreams: [http://127.0.0.1:${upstreamPort}]
    protocol: h2c
${extra}
`);
  const amb = await startAmbassador({ AMBASSADOR_CONFIG: file });
  running.push(amb);
  return amb;
}

describe('gRPC over h2c, every kind of call', () => {
  let up: Awaited<ReturnType<typeof startServer>>;
  let amb: TestAmbassador;
  let c: InstanceType<grpc.ServiceClientConstructor>;
  beforeAll(async () => {
    up = await startServer();
    const { file } = writeConfig(`
listeners:
  - { name: grpc, port: 0, protocol: h2c, pool: app }
pools:
  app: { upstreams: [http://127.0.0.1:${up.port}], protocol: h2c }
`);
    amb = await startAmbassador({ AMBASSADOR_CONFIG: file });
    c = client(amb.port);
  });
  afterAll(async () => {
    c.close();
    await amb.stop();
    up.stop();
  });

  it('unary, with metadata and trailers (grpc-status) passed through', async () => {
    expect(await unary(c, { text: 'hi', n: 1 })).toEqual({ text: 'echo hi', n: 2 });
    await expect(unary(c, { text: 'fail', n: 0 })).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
      details: 'no such thing',
    });
    await waitFor('the access log', () => amb.access.some((e) => e.grpcStatus === grpc.status.NOT_FOUND));
    expect(
      await metricValue(amb, 'ambassador_grpc_requests_total', { grpc_status: '0' }),
    ).toBeGreaterThanOrEqual(1);
    expect(await metricValue(amb, 'ambassador_grpc_requests_total', { grpc_status: '5' })).toBe(1);
  });

  it('server streaming, client streaming, and a 10k-message bidi stream', async () => {
    const got: number[] = [];
    const stream = c.ServerStream!({ text: 's', n: 100 }) as grpc.ClientReadableStream<Msg>;
    stream.on('data', (m: Msg) => got.push(m.n));
    await once(stream, 'end');
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));

    const sum = await new Promise<Msg>((resolve, reject) => {
      const cs = (
        c.ClientStream as (cb: (e: Error | null, r?: Msg) => void) => grpc.ClientWritableStream<Msg>
      ).call(c, (e, r) => (e ? reject(e) : resolve(r!)));
      for (let i = 1; i <= 100; i++) cs.write({ text: '', n: i });
      cs.end();
    });
    expect(sum.n).toBe(5050);

    const bidi = c.Bidi!() as grpc.ClientDuplexStream<Msg, Msg>;
    let count = 0;
    let total = 0;
    bidi.on('data', (m: Msg) => {
      count++;
      total += m.n;
    });
    const ended = once(bidi, 'end');
    for (let i = 0; i < 10_000; i++) if (!bidi.write({ text: 'b', n: i })) await once(bidi, 'drain');
    bidi.end();
    await ended;
    expect(count).toBe(10_000);
    expect(total).toBe(2 * ((9999 * 10_000) / 2));
  });

  it('passes the deadline on, and a client cancel reaches the server', async () => {
    const cancelledBefore = up.seen.cancelled;
    await expect(unary(c, { text: 'slow', n: 0 }, { deadline: Date.now() + 300 })).rejects.toMatchObject({
      code: grpc.status.DEADLINE_EXCEEDED,
    });
    // grpc-js turns the grpc-timeout header it received back into a deadline.
    const deadline = up.seen.deadlines.at(-1);
    expect(deadline instanceof Date ? deadline.getTime() : deadline).toBeLessThan(Date.now() + 1000);
    await waitFor('the server to see the deadline pass', () => up.seen.cancelled > cancelledBefore, 5000);
    const afterDeadline = up.seen.cancelled;
    const stream = c.ServerStream!({ text: 'slowly', n: 1000 }) as grpc.ClientReadableStream<Msg>;
    stream.on('error', () => {}); // CANCELLED, as asked
    await once(stream, 'data');
    stream.cancel();
    await waitFor('the server to see the cancel', () => up.seen.cancelled > afterDeadline, 5000);
  });
});

describe('gRPC failures become gRPC statuses', () => {
  it('no upstream: UNAVAILABLE with HTTP 200, never a text 502', async () => {
    const amb = await h2cAmbassador(await refusedPort());
    const c = client(amb.port);
    running.push({ stop: () => c.close() });
    await expect(unary(c, { text: 'x', n: 0 })).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    // Seen raw: status 200, grpc-status 14 in the only HEADERS frame.
    const session = h2connect(`http://127.0.0.1:${amb.port}`);
    const head = await new Promise<Record<string, unknown>>((resolve) => {
      const req = session.request({
        ':method': 'POST',
        ':path': '/multipod.test.Echo/Unary',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      // Trailers-only: the status comes in the one HEADERS frame, which ends the stream.
      req.on('response', (h, flags) => resolve({ ...h, endStream: (flags & 0x1) === 1 }));
      req.end(Buffer.alloc(5));
    });
    session.close();
    expect(head[':status']).toBe(200);
    expect(head['grpc-status']).toBe('14');
    expect(head['content-type']).toBe('application/grpc');
    expect(head.endStream).toBe(true);
  });

  it("the caller's deadline is kept by the ambassador too: DEADLINE_EXCEEDED when the upstream is slow", async () => {
    const up = await startServer();
    running.push(up);
    const amb = await h2cAmbassador(up.port);
    // A raw HTTP/2 client that would wait forever: only the ambassador enforces grpc-timeout.
    const session = h2connect(`http://127.0.0.1:${amb.port}`);
    const started = Date.now();
    const status = await new Promise<string | undefined>((resolve) => {
      const req = session.request({
        ':method': 'POST',
        ':path': '/multipod.test.Echo/Unary',
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-timeout': '200m',
      });
      let s: string | undefined;
      req.on('response', (h) => (s = h['grpc-status'] as string | undefined));
      req.on('trailers', (t) => (s = t['grpc-status'] as string | undefined));
      req.on('close', () => resolve(s));
      req.resume();
      // Msg{text:"slow"}: field 1, length 4.
      const msg = Buffer.from([0x0a, 0x04, ...Buffer.from('slow')]);
      const frame = Buffer.alloc(5);
      frame.writeUInt32BE(msg.length, 1);
      req.end(Buffer.concat([frame, msg]));
    });
    session.close();
    expect(status).toBe('4');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('an upstream killed mid-stream: the client gets UNAVAILABLE', async () => {
    const up = await startServer();
    const amb = await h2cAmbassador(up.port);
    const c = client(amb.port);
    running.push({ stop: () => c.close() });
    const stream = c.ServerStream!({ text: 'slowly', n: 1000 }) as grpc.ClientReadableStream<Msg>;
    const error = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
    stream.on('data', () => {});
    await waitFor('a first message', () => true);
    await new Promise((r) => setTimeout(r, 200));
    up.stop();
    expect((await error).code).toBe(grpc.status.UNAVAILABLE);
  });
});

describe('HTTP/2 over TLS: ALPN h2 and http/1.1 on one port, h2 upstreams', () => {
  it('serves gRPC clients over h2 and HTTP/1.1 clients on the same listener, to an h2 (TLS) upstream', async () => {
    const up = await startServer({ tls: true });
    running.push(up);
    const { file } = writeConfig(`
listeners:
  - name: tls
    port: 0
    pool: app
    tls: { certFile: ${join(ca.dir, 'site-a.pem')}, keyFile: ${join(ca.dir, 'site-a.key')} }
pools:
  app:
    upstreams: [https://127.0.0.1:${up.port}]
    protocol: h2
    tls: { caFile: ${ca.caFile}, serverName: upstream.test }
`);
    const amb = await startAmbassador({ AMBASSADOR_CONFIG: file });
    running.push(amb);
    const c = client(amb.port, true);
    running.push({ stop: () => c.close() });
    expect(await unary(c, { text: 'over tls', n: 1 })).toEqual({ text: 'echo over tls', n: 2 });
  });
});

describe('ALPN and h2c with curl', () => {
  it('one TLS port: curl --http2 gets HTTP/2, curl --http1.1 gets HTTP/1.1; h2c with prior knowledge', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { startOrigin } = await import('../test-helpers.ts');
    const o = await startOrigin((_req, res) => res.end('hello'));
    running.push({ stop: () => o.close() });
    const { file } = writeConfig(`
listeners:
  - name: tls
    port: 0
    pool: app
    tls: { certFile: ${join(ca.dir, 'site-a.pem')}, keyFile: ${join(ca.dir, 'site-a.key')} }
  - { name: clear, port: 0, protocol: h2c, pool: app }
pools:
  app: { upstreams: [${o.url}] }
`);
    const amb = await startAmbassador({ AMBASSADOR_CONFIG: file });
    running.push(amb);
    // Not execFileSync: the ambassador runs in this process and must keep answering.
    const curl = async (...args: string[]) =>
      (
        await promisify(execFile)('curl', [
          '-s',
          '--max-time',
          '5',
          '-o',
          '/dev/null',
          '-w',
          '%{http_version} %{http_code}',
          ...args,
        ])
      ).stdout;
    const tls = `https://127.0.0.1:${amb.ports.get('tls')}/`;
    expect(await curl('--cacert', ca.caFile, '--http2', tls)).toBe('2 200');
    expect(await curl('--cacert', ca.caFile, '--http1.1', tls)).toBe('1.1 200');
    expect(await curl('--http2-prior-knowledge', `http://127.0.0.1:${amb.ports.get('clear')}/`)).toBe(
      '2 200',
    );
  });
});

describe('grpc.health.v1 health checks', () => {
  it('take an upstream out when it answers NOT_SERVING, and back', async () => {
    let serving = true;
    const up = await startServer({ serving: () => serving });
    running.push(up);
    const amb = await h2cAmbassador(
      up.port,
      '    healthCheck: { type: grpc, interval: 50ms, timeout: 500ms, rise: 1, fall: 1 }',
    );
    const upMetric = () => metricValue(amb, 'ambassador_upstream_up');
    await waitFor('up', async () => (await upMetric()) === 1);
    serving = false;
    await waitFor('down', async () => (await upMetric()) === 0, 5000);
    serving = true;
    await waitFor('up again', async () => (await upMetric()) === 1, 5000);
  });

  it('asks for the named service, a long name too (its length is a varint)', async () => {
    const name = `multipod.test.${'x'.repeat(200)}`;
    const asked: string[] = [];
    const up = await startServer({
      serving: (service) => {
        asked.push(service);
        return service === name;
      },
    });
    running.push(up);
    const amb = await h2cAmbassador(
      up.port,
      `    healthCheck: { type: grpc, service: ${name}, interval: 50ms, timeout: 500ms, rise: 1, fall: 1 }`,
    );
    await waitFor('a check that asked for the service', async () => asked.includes(name), 5000);
    await waitFor('more checks', async () => asked.length >= 3, 5000);
    expect(await metricValue(amb, 'ambassador_upstream_up')).toBe(1);
  });
});
