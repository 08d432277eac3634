import { describe, expect, it } from 'vitest';
import { encodeV1, encodeV2, type ProxyAddresses, parseProxyHeader } from './proxy-protocol.ts';

const v4: ProxyAddresses = {
  family: 4,
  source: '203.0.113.7',
  sourcePort: 51234,
  destination: '10.0.0.1',
  destinationPort: 443,
};
const v6: ProxyAddresses = {
  family: 6,
  source: '2001:db8::7',
  sourcePort: 1,
  destination: 'fd00::1',
  destinationPort: 8443,
};

describe('PROXY protocol headers', () => {
  it('round-trips v1 and v2, IPv4 and IPv6, and says how long the header was', () => {
    for (const a of [v4, v6]) {
      const one = Buffer.concat([encodeV1(a), Buffer.from('GET / HTTP/1.1\r\n')]);
      expect(parseProxyHeader(one)).toEqual({ length: encodeV1(a).length, addresses: a });
      const two = Buffer.concat([encodeV2(a), Buffer.from('hello')]);
      expect(parseProxyHeader(two)).toEqual({ length: encodeV2(a).length, addresses: a });
    }
    expect(encodeV1(v4).toString()).toBe('PROXY TCP4 203.0.113.7 10.0.0.1 51234 443\r\n');
  });

  it('waits for more bytes while a header may still come, byte by byte', () => {
    for (const full of [encodeV1(v4), encodeV2(v6)])
      for (let n = 0; n < full.length; n++)
        expect(parseProxyHeader(full.subarray(0, n)), `${n} bytes`).toBeUndefined();
  });

  it("knows the balancer's own checks (v1 UNKNOWN, v2 LOCAL): no addresses", () => {
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))).toEqual({ length: 15 });
    const local = encodeV2(v4);
    local[12] = 0x20;
    expect(parseProxyHeader(local)).toEqual({ length: local.length });
  });

  it('refuses what is not a header', () => {
    for (const bad of [
      'GET / HTTP/1.1\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n',
      'PROXY TCP4 1.2.3 5.6.7.8 1 1\r\n',
      'PROXY TCP6 1.2.3.4 5.6.7.8 1 1\r\n',
      `PROXY TCP4 ${'1'.repeat(120)}`,
    ])
      expect(() => parseProxyHeader(Buffer.from(bad)), bad).toThrow();
  });
});
