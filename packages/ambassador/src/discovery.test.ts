import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostsFileAddresses, systemResolver } from './discovery.ts';
import { tempDir } from './test-files.ts';

describe("the hosts file (a pod's hostAliases)", () => {
  it('gives every address listed for a name, not only the first as glibc does', async () => {
    const file = join(tempDir(), 'hosts');
    writeFileSync(
      file,
      '127.0.0.1 localhost\n10.1.1.1\tbackend backend.default.svc # pod 0\n10.2.2.2 Backend\n# 10.3.3.3 backend\nfd00::1 backend\n',
    );
    expect(hostsFileAddresses('backend', file)).toEqual(['10.1.1.1', '10.2.2.2', 'fd00::1']);
    expect(hostsFileAddresses('backend.default.svc', file)).toEqual(['10.1.1.1']);
    expect(hostsFileAddresses('nothing', file)).toEqual([]);
    expect(hostsFileAddresses('backend', join(tempDir(), 'missing'))).toEqual([]);
    // The system resolver falls back to it when DNS has no answer (here: no DNS at all).
    const resolved = await systemResolver(undefined, file).resolve('backend');
    expect(resolved.addresses.sort()).toEqual(['10.1.1.1', '10.2.2.2', 'fd00::1']);
  });
});
