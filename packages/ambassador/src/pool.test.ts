// Balancing and passive health, with an injected clock: no test waits for real time here.
import { describe, expect, it } from 'vitest';
import { Pool, type Upstream } from './pool.ts';
import type { PoolConfig } from './types.ts';

function pool(over: Partial<PoolConfig> & { urls?: [string, number][] } = {}, now = () => 0): Pool {
  const {
    urls = [
      ['http://a:1', 1],
      ['http://b:1', 1],
    ],
    ...rest
  } = over;
  return new Pool(
    {
      name: 'p',
      balance: 'round-robin',
      upstreams: urls.map(([url, weight]) => ({ url, weight, maxInFlight: 0 })),
      ejection: { consecutiveFailures: 2, baseTime: 1000, maxTime: 4000 },
      tls: { insecure: false },
      connectTimeout: 1000,
      readTimeout: 1000,
      idleTimeout: 1000,
      retries: 1,
      retryBudget: 0.2,
      hostHeader: 'keep',
      resolveInterval: 5000,
      protocol: 'http1',
      ...rest,
    },
    { now },
  );
}

const names = (p: Pool, n: number) =>
  Array.from({ length: n }, () => p.pick().upstream!.url.hostname).join('');

describe('balancer', () => {
  it('smooth weighted round-robin interleaves by weight', () => {
    const seq = names(
      pool({
        urls: [
          ['http://a:1', 3],
          ['http://b:1', 1],
        ],
      }),
      8,
    );
    expect(seq.split('').filter((c) => c === 'a')).toHaveLength(6);
    expect(seq).toBe('aabaaaba'); // nginx's smooth order: b is spread out, not last
  });

  it('least-requests picks the upstream with the fewest in flight per weight', () => {
    const p = pool({ balance: 'least-requests' });
    const [a, b] = p.upstreams;
    a!.inFlight = 3;
    b!.inFlight = 1;
    expect(p.pick().upstream).toBe(b);
    a!.inFlight = 0;
    expect(p.pick().upstream).toBe(a);
  });
});

describe('ejection', () => {
  it('ejects after consecutive failures, doubling the time up to the maximum', () => {
    let t = 0;
    const p = pool({}, () => t);
    const a = p.upstreams[0]!;
    p.failed(a);
    expect(a.up(t)).toBe(true);
    p.failed(a);
    expect(a.up(t)).toBe(false);
    expect(names(p, 3)).toBe('bbb');
    t = 1000;
    expect(a.up(t)).toBe(true);
    p.failed(a);
    p.failed(a);
    expect(a.ejectedUntil).toBe(3000); // second ejection: 2 s
    t = 3000;
    p.failed(a);
    p.failed(a);
    expect(a.ejectedUntil).toBe(7000); // third: 4 s, the maximum
    t = 7000;
    p.failed(a);
    p.failed(a);
    expect(a.ejectedUntil).toBe(11_000); // still 4 s
  });

  it('a success resets the count of consecutive failures', () => {
    const p = pool();
    const a = p.upstreams[0]!;
    p.failed(a);
    p.succeeded(a);
    p.failed(a);
    expect(a.up(0)).toBe(true);
  });

  it('never lets passive ejection empty the pool: with every upstream ejected, all take traffic', () => {
    let panics = 0;
    const p = new Pool(pool().config, { now: () => 0, events: { panic: () => panics++ } });
    const [a, b] = p.upstreams as [Upstream, Upstream];
    for (const u of [a, b]) {
      p.failed(u);
      p.failed(u);
    }
    expect(a.up(0) || b.up(0)).toBe(false);
    expect(names(p, 4).split('').sort().join('')).toBe('aabb');
    expect(panics).toBe(4);
    // One upstream back: it alone takes traffic again.
    b.ejectedUntil = 0;
    expect(names(p, 3)).toBe('bbb');
  });

  it('with every upstream down by its active checks, says why', () => {
    const p = pool({
      urls: [['http://a:1', 1]],
      healthCheck: { type: 'http', path: '/', interval: 1000, timeout: 100, rise: 1, fall: 1 },
    });
    p.checked(p.upstreams[0]!, false);
    expect(p.pick()).toEqual({ reason: 'no healthy upstream in pool "p"' });
  });

  it('in panic, still skips upstreams that fail their active checks', () => {
    const p = pool({
      healthCheck: { type: 'http', path: '/', interval: 1000, timeout: 100, rise: 1, fall: 1 },
    });
    const [a, b] = p.upstreams as [Upstream, Upstream];
    p.checked(a, false);
    p.failed(b);
    p.failed(b);
    expect(names(p, 2)).toBe('bb');
  });
});

describe('health checks', () => {
  it('applies fall and rise', () => {
    const p = pool({
      healthCheck: { type: 'http', path: '/', interval: 1000, timeout: 100, rise: 2, fall: 3 },
    });
    const a = p.upstreams[0]!;
    p.checked(a, false);
    p.checked(a, false);
    expect(a.healthy).toBe(true);
    p.checked(a, false);
    expect(a.healthy).toBe(false);
    p.checked(a, true);
    expect(a.healthy).toBe(false);
    p.checked(a, true);
    expect(a.healthy).toBe(true);
  });
});

describe('retry budget', () => {
  it('allows a burst, then only the budgeted fraction of requests', () => {
    const p = pool({ retryBudget: 0.25 });
    let burst = 0;
    while (p.takeRetry()) burst++;
    expect(burst).toBe(10);
    for (let i = 0; i < 8; i++) p.noteRequest();
    expect(p.takeRetry()).toBe(true);
    expect(p.takeRetry()).toBe(true);
    expect(p.takeRetry()).toBe(false);
  });
});

describe('discovered addresses', () => {
  it('replace the by-name upstream, keep what was learnt about addresses that stay, drop the gone', () => {
    let t = 0;
    const p = pool({ urls: [['http://backend:8080', 2]] }, () => t);
    expect(p.upstreams.map((u) => u.name)).toEqual(['http://backend:8080']);
    p.setAddresses('http://backend:8080', ['10.0.0.1', '10.0.0.2']);
    expect(p.upstreams.map((u) => u.name)).toEqual(['http://10.0.0.1:8080', 'http://10.0.0.2:8080']);
    expect(p.upstreams.map((u) => [u.host, u.connectHost, u.weight])).toEqual([
      ['backend', '10.0.0.1', 2],
      ['backend', '10.0.0.2', 2],
    ]);
    const [a] = p.upstreams as [Upstream];
    a.inFlight = 3;
    p.failed(a);
    p.failed(a); // ejected
    const { added, removed } = p.setAddresses('http://backend:8080', ['10.0.0.1', '10.0.0.3']);
    expect(added.map((u) => u.address)).toEqual(['10.0.0.3']);
    expect(removed.map((u) => u.address)).toEqual(['10.0.0.2']);
    expect(p.upstreams[0]).toBe(a); // the same object: in-flight count and ejection kept
    expect(a.up(t)).toBe(false);
    t = 10_000;
    expect(new Set(Array.from({ length: 4 }, () => p.pick().upstream!.address))).toEqual(
      new Set(['10.0.0.1', '10.0.0.3']),
    );
  });

  it('survive a reload: the new pool starts from the addresses the old one had', () => {
    const old = pool({ urls: [['http://backend:8080', 1]] });
    old.setAddresses('http://backend:8080', ['10.0.0.7']);
    old.upstreams[0]!.healthy = false;
    const fresh = new Pool(old.config, { previous: old });
    expect(fresh.upstreams.map((u) => [u.name, u.healthy])).toEqual([['http://10.0.0.7:8080', false]]);
  });
});
