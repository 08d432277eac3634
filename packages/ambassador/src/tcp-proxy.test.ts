// TCP mode against real echo servers: forwarding both ways, half-close, balancing, failures.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, refusedPort, startAmbassador, type TestAmbassador, waitFor } from './test-helpers.ts';

const servers: Server[] = [];
const running: TestAmbassador[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.stop()));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

async function echoServer(prefix = ''): Promise<number> {
  const s = createServer({ allowHalfOpen: true }, (sock) => {
    if (prefix) sock.write(prefix);
    sock.pipe(sock);
  });
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  servers.push(s);
  return (s.address() as AddressInfo).port;
}

async function ambassador(env: Record<string, string>) {
  const a = await startAmbassador(env);
  running.push(a);
  return a;
}

/** Writes data, half-closes, collects all the answer. */
function exchange(port: number, data: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(data));
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

describe('tcp mode', () => {
  let a: number;
  let b: number;
  beforeAll(async () => {
    a = await echoServer('a:');
    b = await echoServer('b:');
  });

  it('forwards bytes both ways and propagates half-close', async () => {
    const amb = await ambassador({ AMBASSADOR_UPSTREAMS: `tcp://127.0.0.1:${a}` });
    const data = Buffer.alloc(8 * 1024 * 1024, 7);
    const back = await exchange(amb.port, data);
    expect(back.length).toBe(data.length + 2);
    expect(back.subarray(2).equals(data)).toBe(true);
    await waitFor('the access log line', () => amb.access.length === 1);
    expect(amb.access[0]).toMatchObject({
      listener: 'default',
      status: 'ok',
      bytesIn: data.length,
      bytes: data.length + 2,
    });
  });

  it('keeps every byte intact when the client reads slowly (the reused read buffer must wait)', async () => {
    const data = randomBytes(6 * 1024 * 1024);
    const source = createServer((sock) => sock.end(data));
    source.listen(0, '127.0.0.1');
    await once(source, 'listening');
    servers.push(source);
    const amb = await ambassador({
      AMBASSADOR_UPSTREAMS: `tcp://127.0.0.1:${(source.address() as AddressInfo).port}`,
    });
    const got = await new Promise<Buffer>((resolve, reject) => {
      const s = connect(amb.port, '127.0.0.1');
      const chunks: Buffer[] = [];
      let n = 0;
      s.on('data', (c: Buffer) => {
        chunks.push(c);
        // Stall now and then, so the proxy's writes to us back up and it must pause its reads.
        if (++n % 8 === 0) {
          s.pause();
          setTimeout(() => s.resume(), 5);
        }
      });
      s.on('end', () => resolve(Buffer.concat(chunks)));
      s.on('error', reject);
    });
    expect(got.length).toBe(data.length);
    expect(createHash('sha256').update(got).digest('hex')).toBe(
      createHash('sha256').update(data).digest('hex'),
    );
  });

  it('spreads connections over the pool', async () => {
    const amb = await ambassador({ AMBASSADOR_UPSTREAMS: `tcp://127.0.0.1:${a},tcp://127.0.0.1:${b}` });
    const answers: string[] = [];
    for (let i = 0; i < 4; i++) answers.push((await exchange(amb.port, 'x')).toString());
    expect(answers.sort()).toEqual(['a:x', 'a:x', 'b:x', 'b:x']);
  });

  it('moves to the next upstream when one refuses, before reading a byte from the client', async () => {
    const dead = await refusedPort();
    const amb = await ambassador({
      AMBASSADOR_UPSTREAMS: `tcp://127.0.0.1:${dead},tcp://127.0.0.1:${a}`,
      AMBASSADOR_EJECT_AFTER: '0',
    });
    for (let i = 0; i < 2; i++) expect((await exchange(amb.port, 'hello')).toString()).toBe('a:hello');
    expect(await metricValue(amb, 'ambassador_retries_total')).toBe(1);
  });

  it('closes the client connection when no upstream can be reached', async () => {
    const amb = await ambassador({ AMBASSADOR_UPSTREAMS: `tcp://127.0.0.1:${await refusedPort()}` });
    // Closed without an answer: a clean end, or a reset because the client's bytes were never read.
    const answer = await exchange(amb.port, 'hello').catch((err: NodeJS.ErrnoException) => err.code);
    expect(answer === 'ECONNRESET' || (Buffer.isBuffer(answer) && answer.length === 0)).toBe(true);
    await waitFor(
      'the metric',
      async () => (await metricValue(amb, 'ambassador_tcp_connections_total', { result: 'error' })) === 1,
    );
  });
});
