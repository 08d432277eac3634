// The access log on a full disk, for real: a 64 KiB tmpfs filled up, so a batch of lines is cut
// short mid-line by ENOSPC. Mounting needs root, so this runs in the system suite (`pnpm
// test:system`, as root in CI) rather than in the Node-only `pnpm test`; and /dev/full, which
// refuses every write, for the retries and reports (seconds of real retry timers).
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessLog } from './access-log.ts';
import type { Web } from './server.ts';
import { http, type LogLine, Site, startWebLogged, until } from './testing.ts';

const site = new Site();
const mnt = join(site.dir, 'log');
const log = join(mnt, 'access.log');
const filler = join(mnt, 'filler');
let web: Web | undefined;
let mounted = false;

beforeAll(() => {
  site.publish({ 'a.txt': 'aaa\n' });
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
  mounted = true;
});
afterAll(async () => {
  await web?.stop();
  if (mounted) execFileSync('umount', [mnt]);
  site.remove();
});

/** Fills the file system to the last byte, then frees one page for the log to fill mid-line. */
function fillLeavingOnePage(): void {
  const fd = openSync(filler, 'w');
  const block = Buffer.alloc(4096, 'f');
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  ftruncateSync(fd, fstatSync(fd).size - 4096);
  closeSync(fd);
}

const LINE = /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/a\.txt\?n=(\d+) HTTP\/1\.1" 200 4 "-" "-" \d+\.\d{3}$/;

describe('access log on a full disk', () => {
  it('writes whole lines or none, holds the rest, reports once, and writes them when space returns', async () => {
    const started = await startWebLogged({
      WEB_ROOT: site.current,
      WEB_ACCESS_LOG: log,
      WEB_ACCESS_LOG_MAX_SIZE: '0',
    });
    web = started.web;
    const logs: LogLine[] = started.lines;
    const accessLogErrors = () => logs.filter((l) => l.level === 'error' && l.msg.startsWith('access log:'));
    fillLeavingOnePage();
    let n = 0;
    // ~100-byte lines: the 4 KiB page takes about 40, and a batch straddles its end.
    while (accessLogErrors().length === 0 && n < 500) {
      await http(web.port, `/a.txt?n=${n++}`);
      if (n % 10 === 0) await new Promise((r) => setTimeout(r, 150));
    }
    // The disk stays full for three seconds of traffic: retried every second, reported once.
    const until3s = Date.now() + 3000;
    while (Date.now() < until3s) {
      await http(web.port, `/a.txt?n=${n++}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // What is in the file now ends on a whole line: the torn tail was cut off.
    expect(readFileSync(log, 'latin1').endsWith('\n')).toBe(true);
    expect(accessLogErrors().map((l) => l.msg)).toEqual([
      expect.stringMatching(
        /^access log: writing .*access\.log failed; \d+ lines held \(retried every second\), 0 dropped so far$/,
      ),
    ]);
    rmSync(filler);
    await until(
      () =>
        logs.some(
          (l) =>
            l.level === 'info' &&
            /^access log: writing .* again after \d+s; 0 lines dropped meanwhile$/.test(l.msg),
        ),
      5000,
      'the log to write again',
    );
    for (let i = 0; i < 5; i++) await http(web.port, `/a.txt?n=${n++}`);
    await web.stop();
    web = undefined;
    // Every request has its line, each whole, in order, none glued to a torn one.
    const lines = readFileSync(log, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    for (const l of lines) expect(l).toMatch(LINE);
    expect(lines.map((l) => Number(LINE.exec(l)?.[1]))).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(logs.some((l) => /dropped in all/.test(l.msg))).toBe(false);
  });
});

describe('a destination that refuses every write (/dev/full: ENOSPC)', () => {
  it('holds lines up to its limit, counts the rest as dropped, and reports at most every 10 s', async () => {
    let clock = 1_000_000;
    const errors: string[] = [];
    const log = new AccessLog({
      destination: '/dev/full',
      format: 'combined',
      maxSize: 0,
      keep: 1,
      now: () => clock,
      onError: (msg) => errors.push(msg),
      maxPendingBytes: 1000,
    });
    const line = 'x'.repeat(99); // 100 bytes with its newline
    for (let i = 0; i < 5; i++) log.write(line);
    await until(() => errors.length > 0, 5000, 'the first failure');
    expect(errors[0]).toBe(
      'access log: writing /dev/full failed; 5 lines held (retried every second), 0 dropped so far',
    );
    // Held up to 1000 bytes, the rest dropped; retries fail every second, and within 10 s of the
    // first report nothing is logged again.
    for (let i = 0; i < 45; i++) log.write(line);
    await new Promise((r) => setTimeout(r, 2500));
    expect(errors).toHaveLength(1);
    clock += 10_000;
    await until(() => errors.length === 2, 5000, 'the next report, 10 s later');
    expect(errors[1]).toMatch(/11 lines held .*, 39 dropped so far$/);
    await log.close();
    expect(log.dropped).toBe(50);
    expect(errors.at(-1)).toBe(
      'access log: 50 lines dropped in all (/dev/full full, unwritable or too slow)',
    );
  });
});
