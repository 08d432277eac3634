// How the access log writes under load: whole batches, like nginx's `buffer=64k`, not one small
// write for whatever arrived while the previous write was in flight. The real fs.write does the
// writing; the test only records the size of each call.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { AccessLog } from './access-log.ts';
import { Site } from './testing.ts';

const writes: number[] = [];
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return {
    ...real,
    write: (
      fd: number,
      buf: Buffer,
      off: number,
      len: number,
      pos: null,
      cb: (err: NodeJS.ErrnoException | null, written: number, buffer: Buffer) => void,
    ) => {
      writes.push(len);
      return real.write(fd, buf, off, len, pos, cb);
    },
  };
});

const site = new Site();
afterAll(() => site.remove());

describe('AccessLog under load', () => {
  it('writes 64 KiB batches while lines keep coming, losing none', async () => {
    const path = join(site.dir, 'batches.log');
    const log = new AccessLog({ destination: path, format: 'combined', maxSize: 0, keep: 1 });
    const line = (i: number) =>
      `127.0.0.1 - - [25/Nov/2026:13:55:02 +0000] "GET /a.txt HTTP/1.1" 200 5 "-" "load ${i}" 0.000`;
    // A busy server: 20 lines per turn of the event loop, so lines arrive during every write.
    let sent = 0;
    const end = Date.now() + 300;
    while (Date.now() < end) {
      for (let i = 0; i < 20; i++) log.write(line(sent++));
      await new Promise((r) => setImmediate(r));
    }
    const during = writes.length;
    const small = writes.filter((n) => n < 64 * 1024);
    await log.close();
    expect(during).toBeGreaterThan(5);
    expect(small, `write sizes: ${writes.join(', ')}`).toEqual([]);
    const got = existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
    expect(got).toHaveLength(sent);
    expect(got.at(-1)).toBe(line(sent - 1));
  });
});
