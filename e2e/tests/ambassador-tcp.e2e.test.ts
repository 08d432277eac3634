// Ambassador in TCP mode, outbound: the app speaks plain Redis to localhost:6379; the ambassador
// carries it to a real Redis that only speaks TLS (manifests/ambassador/tcp, applied file by file
// as the guide does: kubectl apply -f redis.yaml -f ambassador-tcp.yaml).
import { describe, expect, it } from 'vitest';
import { deploy } from '../src/fixture.ts';
import { eventually, get200, metricValue } from '../src/wait.ts';

describe('ambassador-tcp', () => {
  const pods = deploy(['ambassador/tcp/redis.yaml', 'ambassador/tcp/ambassador-tcp.yaml']);
  const cli = (...args: string[]) =>
    pods.current.exec('ambassador-tcp', 'app', ['redis-cli', '-h', '127.0.0.1', '-p', '6379', ...args]);

  it('the app reaches the remote Redis through localhost:6379, in plain Redis', async () => {
    await eventually(async () => expect((await cli('PING')).stdout.trim()).toBe('PONG'), {
      timeoutMs: 30_000,
      what: 'PONG through the ambassador',
    });
    expect((await cli('SET', 'greeting', 'hello from the app')).stdout.trim()).toBe('OK');
    // The value is in the remote Redis itself: read it there, over TLS, with its own certificate.
    const there = await pods.current.exec('redis', 'redis', [
      'redis-cli',
      '--tls',
      '--cacert',
      '/etc/redis-tls/tls.crt',
      '--sni',
      'redis',
      '-p',
      '6380',
      'GET',
      'greeting',
    ]);
    expect(there.stdout.trim()).toBe('hello from the app');
  });

  it('the app’s own loop counts visits through the ambassador (kubectl logs -c app)', async () => {
    await eventually(
      async () => {
        const lines = (await pods.current.logs('ambassador-tcp', 'app')).trim().split('\n');
        expect(lines.filter((l) => /^\d+$/.test(l.trim())).length).toBeGreaterThanOrEqual(2);
      },
      { timeoutMs: 30_000, what: 'two INCR answers in the app’s log' },
    );
  });

  it('the remote speaks only TLS: plain Redis straight to it gets no answer', async () => {
    const plain = await pods.current.exec('ambassador-tcp', 'app', [
      'redis-cli',
      '-h',
      'redis',
      '-p',
      '6380',
      'PING',
    ]);
    expect(plain.stdout).not.toContain('PONG');
  });

  it('counts the connections and bytes in its metrics; ready, with its upstream up', async () => {
    const metrics = await get200(`${pods.current.url('ambassador-tcp', 9901)}/metrics`);
    expect(metricValue(metrics, 'ambassador_tcp_connections_total')).toBeGreaterThanOrEqual(2);
    expect(metricValue(metrics, 'ambassador_tcp_bytes_total', { direction: 'upstream' })).toBeGreaterThan(0);
    expect(metricValue(metrics, 'ambassador_upstream_up')).toBe(1);
  });
});
