// Failure modes of following a log, each test named after the failure (mtail's habit). The tests
// wake the adapter with poll() instead of waiting for timers, so none of them sleeps.
import {
  appendFileSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { logLines, startAdapter, type TestAdapter, tempDir } from './testing.ts';

const line = (path: string, code = 200, rt = '0.010') =>
  `127.0.0.1 - - [25/Nov/2026:13:55:02 +0000] "GET ${path} HTTP/1.1" ${code} 10 "-" "curl/8.5.0" ${rt}\n`;
const lines = (n: number, from = 0) => Array.from({ length: n }, (_, i) => line(`/l/${from + i}`)).join('');

describe('tailer failure modes', () => {
  let tmp: ReturnType<typeof tempDir>;
  let log: string;
  let t: TestAdapter | undefined;

  beforeEach(() => {
    tmp = tempDir();
    log = join(tmp.dir, 'access.log');
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
    tmp.remove();
  });

  let now = 0;
  const start = async (env: Record<string, string> = {}) => {
    t = await startAdapter({ ADAPTER_LOG_PATH: log, ...env }, { now: () => now });
    return t;
  };
  const count = async (key = 'log_adapter_lines_total{result="parsed"}') => {
    await t!.adapter.poll();
    return (await t!.scrape()).get(key) ?? 0;
  };

  it('start at end: lines already in the file are not counted, new ones are', async () => {
    writeFileSync(log, lines(5));
    await start();
    expect(await count()).toBe(0);
    appendFileSync(log, lines(3));
    expect(await count()).toBe(3);
  });

  it('start at beginning: every line is counted', async () => {
    writeFileSync(log, lines(5));
    await start({ ADAPTER_START: 'beginning' });
    expect(await count()).toBe(5);
  });

  it('rotation by rename + create: lines before and after are each counted once', async () => {
    writeFileSync(log, '');
    await start();
    appendFileSync(log, lines(4));
    expect(await count()).toBe(4);
    appendFileSync(log, lines(2, 4)); // written just before the rename, not read yet
    renameSync(log, `${log}.1`);
    appendFileSync(`${log}.1`, lines(1, 6)); // the writer has not reopened yet
    writeFileSync(log, lines(3, 7));
    expect(await count()).toBe(10);
    expect(await count('log_adapter_rotations_total{reason="replaced"}')).toBe(1);
    appendFileSync(log, lines(1, 10));
    expect(await count()).toBe(11);
    // The writer reopens late (as with logrotate's create + postrotate): the old file is still read.
    appendFileSync(`${log}.1`, lines(2, 11));
    expect(await count()).toBe(13);
    now += 5_000; // quiet for the grace period: let go of the old file
    expect(await count()).toBe(13);
    appendFileSync(`${log}.1`, lines(1, 13));
    expect(await count()).toBe(13);
  });

  it('copytruncate: the file shrinks and is read again from its start', async () => {
    writeFileSync(log, '');
    await start();
    appendFileSync(log, lines(5));
    expect(await count()).toBe(5);
    truncateSync(log, 0);
    appendFileSync(log, lines(2, 5));
    expect(await count()).toBe(7);
    expect(await count('log_adapter_rotations_total{reason="truncated"}')).toBe(1);
  });

  it('copytruncate while behind: the lines written after the last read are counted from the copy', async () => {
    writeFileSync(log, '');
    await start();
    appendFileSync(log, lines(5));
    expect(await count()).toBe(5);
    appendFileSync(log, `${lines(3, 5)}${line('/cut').slice(0, 25)}`); // not read yet, the last one partial
    copyFileSync(log, `${log}.1`);
    truncateSync(log, 0);
    appendFileSync(log, lines(2, 20));
    expect(await count()).toBe(10);
    appendFileSync(`${log}.1`, line('/cut').slice(25)); // nothing writes to a copy; but were it to
    expect(await count()).toBe(11);
  });

  it('copytruncate refilled past the read offset before the next look: the new content is read from its start', async () => {
    writeFileSync(log, '');
    await start();
    appendFileSync(log, lines(3));
    expect(await count()).toBe(3);
    copyFileSync(log, `${log}.1`);
    truncateSync(log, 0);
    appendFileSync(log, lines(6, 100).replaceAll('curl/8.5.0', 'curl/8.6.0'));
    expect(await count()).toBe(9);
    expect(await count('log_adapter_rotations_total{reason="truncated"}')).toBe(1);
  });

  it('delete + recreate: the new file is read from its first line', async () => {
    writeFileSync(log, '');
    await start();
    appendFileSync(log, lines(3));
    expect(await count()).toBe(3);
    rmSync(log);
    expect(await count()).toBe(3);
    writeFileSync(log, lines(4, 3));
    expect(await count()).toBe(7);
  });

  it('deleted for good: the file is let go after the grace period and /readyz says why', async () => {
    writeFileSync(log, '');
    await start();
    rmSync(log);
    await count();
    expect((await fetch(`${t!.base}/readyz`)).status).toBe(200);
    now += 5_000;
    await count();
    const res = await fetch(`${t!.base}/readyz`);
    expect([res.status, await res.text()]).toEqual([
      503,
      `not ok: ${log} does not exist yet (waiting for it)\n`,
    ]);
  });

  it('partial line: held until its newline arrives, then counted once', async () => {
    writeFileSync(log, '');
    await start();
    const whole = line('/partial');
    appendFileSync(log, whole.slice(0, 30));
    expect(await count()).toBe(0);
    appendFileSync(log, whole.slice(30, 60));
    expect(await count()).toBe(0);
    appendFileSync(log, whole.slice(60));
    expect(await count()).toBe(1);
    expect((await t!.scrape()).get('log_adapter_lines_total{result="unparsed"}')).toBe(0);
  });

  it('long line: counted as too_long and skipped, the lines around it still count', async () => {
    writeFileSync(log, '');
    await start({ ADAPTER_MAX_LINE: '1Ki' });
    // 3 MiB without a newline, written in pieces so it spans many reads and polls.
    appendFileSync(log, line('/before'));
    for (let i = 0; i < 3; i++) {
      appendFileSync(log, 'x'.repeat(1 << 20));
      expect(await count()).toBe(1);
    }
    appendFileSync(log, `\n${line('/after')}`);
    expect(await count()).toBe(2);
    expect(await count('log_adapter_lines_total{result="too_long"}')).toBe(1);
    // A long line inside one read is caught too.
    appendFileSync(log, `${'y'.repeat(5000)}\n${line('/after2')}`);
    expect(await count()).toBe(3);
    expect(await count('log_adapter_lines_total{result="too_long"}')).toBe(2);
  });

  it('binary junk: counted as unparsed, sampled into the log at a limited rate, skipped', async () => {
    writeFileSync(log, '');
    const captured = logLines();
    t = await startAdapter(
      { ADAPTER_LOG_PATH: log, ADAPTER_UNPARSED_LOG_INTERVAL: '10s' },
      {
        now: () => now,
        log: captured.stream,
      },
    );
    const junk = Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 0x80, 0x81, 10, 27, 91, 50, 74, 10]);
    appendFileSync(log, junk);
    appendFileSync(log, line('/ok'));
    appendFileSync(log, junk);
    expect(await count()).toBe(1);
    expect(await count('log_adapter_lines_total{result="unparsed"}')).toBe(6);
    const warned = () => captured.lines.filter((l) => String(l.msg).includes('does not match'));
    expect(warned()).toHaveLength(1);
    now += 10_000;
    appendFileSync(log, junk);
    await count();
    expect(warned()).toHaveLength(2);
    // The 5 suppressed after the first warning, plus the one that is logged.
    expect(warned()[1]).toMatchObject({ level: 'warn', unparsedSinceLastLog: 6 });
  });

  it('missing file appearing later: /readyz 503 with the reason, then every line of it counts', async () => {
    await start();
    let res = await fetch(`${t!.base}/readyz`);
    expect([res.status, await res.text()]).toEqual([
      503,
      `not ok: ${log} does not exist yet (waiting for it)\n`,
    ]);
    expect((await fetch(`${t!.base}/healthz`)).status).toBe(200);
    writeFileSync(log, lines(3));
    expect(await count()).toBe(3);
    res = await fetch(`${t!.base}/readyz`);
    expect(res.status).toBe(200);
  });

  it('permission denied (a directory where the log should be): 503 with the reason, then recovers', async () => {
    mkdirSync(log);
    await start();
    const res = await fetch(`${t!.base}/readyz`);
    expect([res.status, await res.text()]).toEqual([503, `not ok: ${log} is not a regular file\n`]);
    expect(await count('log_adapter_file_errors_total')).toBe(1);
    rmSync(log, { recursive: true });
    writeFileSync(log, lines(2));
    expect(await count()).toBe(2);
  });

  it('restart with positions file: no line counted twice, none missed', async () => {
    const positions = join(tmp.dir, 'positions.json');
    writeFileSync(log, lines(5));
    await start({ ADAPTER_START: 'beginning', ADAPTER_POSITIONS: positions });
    appendFileSync(log, `${lines(2, 5)}${line('/half').slice(0, 20)}`);
    expect(await count()).toBe(7);
    await t!.close(); // writes the positions file
    t = undefined;
    appendFileSync(log, `${line('/half').slice(20)}${lines(3, 8)}`);
    await start({ ADAPTER_START: 'beginning', ADAPTER_POSITIONS: positions });
    // Only what came after the last whole line of the first run: the completed half line + 3.
    expect(await count()).toBe(4);
    expect(await count('http_requests_total{method="GET",code="200"}')).toBe(4);
  });

  it('restart with positions file after a rotation while stopped: the new file is read whole', async () => {
    const positions = join(tmp.dir, 'positions.json');
    writeFileSync(log, lines(5));
    await start({ ADAPTER_POSITIONS: positions, ADAPTER_START: 'beginning' });
    expect(await count()).toBe(5);
    await t!.close();
    t = undefined;
    renameSync(log, `${log}.1`);
    writeFileSync(log, lines(2, 5));
    await start({ ADAPTER_POSITIONS: positions });
    expect(await count()).toBe(2);
  });

  it('rotated while down (rename): the old file is finished from where it stopped, before the new one is read whole', async () => {
    const positions = join(tmp.dir, 'positions.json');
    const config = join(tmp.dir, 'adapter.yaml');
    // A gauge keeps the last value set: it shows which file was read last.
    writeFileSync(config, 'metrics:\n  - name: last_bytes\n    type: gauge\n    value: body_bytes_sent\n');
    const sized = (n: number, bytes: number) =>
      Array.from({ length: n }, (_, i) => line(`/s/${i}`).replace(' 200 10 ', ` 200 ${bytes} `)).join('');
    const env = { ADAPTER_POSITIONS: positions, ADAPTER_CONFIG: config };
    writeFileSync(log, sized(5, 1));
    await start({ ...env, ADAPTER_START: 'beginning' });
    expect(await count()).toBe(5);
    await t!.close();
    t = undefined;
    appendFileSync(log, sized(200, 1)); // written after the stop, before the rotation
    renameSync(log, `${log}.1`);
    writeFileSync(log, sized(300, 2));
    await start(env);
    expect(await count()).toBe(500);
    expect(await count('last_bytes')).toBe(2);
    // Both files are recorded, so a crash now would not read either again from its start.
    t!.adapter.savePositions();
    const saved = JSON.parse(readFileSync(positions, 'utf8'));
    expect(Object.keys(saved.files)).toEqual([log]);
    expect(saved.rotated).toMatchObject([{ path: `${log}.1`, offset: statSync(`${log}.1`).size }]);
  });

  it('rotated while down (copytruncate), refilled past the saved offset: the copy is finished, the refilled file read whole', async () => {
    const positions = join(tmp.dir, 'positions.json');
    writeFileSync(log, lines(5));
    await start({ ADAPTER_POSITIONS: positions, ADAPTER_START: 'beginning' });
    expect(await count()).toBe(5);
    await t!.close();
    t = undefined;
    appendFileSync(log, lines(2, 5));
    copyFileSync(log, `${log}.1`);
    truncateSync(log, 0);
    appendFileSync(log, lines(9, 100)); // longer than what was read: the saved offset is inside it
    await start({ ADAPTER_POSITIONS: positions });
    expect(await count()).toBe(11);
    expect(await count('http_requests_total{method="GET",code="200"}')).toBe(11);
  });

  it('rotated away while running and stopped before it was finished: the restart finishes it', async () => {
    const positions = join(tmp.dir, 'positions.json');
    writeFileSync(log, '');
    await start({ ADAPTER_POSITIONS: positions });
    appendFileSync(log, lines(3));
    renameSync(log, `${log}.1`);
    writeFileSync(log, lines(1, 3));
    expect(await count()).toBe(4);
    await t!.close();
    t = undefined;
    appendFileSync(`${log}.1`, lines(2, 4)); // the writer had not reopened yet
    appendFileSync(log, lines(1, 6));
    await start({ ADAPTER_POSITIONS: positions });
    expect(await count()).toBe(3);
  });

  it('rotated twice while down, with a glob: the file written and rotated while down is read whole', async () => {
    const positions = join(tmp.dir, 'positions.json');
    const glob = join(tmp.dir, 'access.log*');
    writeFileSync(log, lines(3));
    t = await startAdapter({
      ADAPTER_LOG_PATH: glob,
      ADAPTER_POSITIONS: positions,
      ADAPTER_START: 'beginning',
    });
    expect(await count()).toBe(3);
    await t.close();
    t = undefined;
    appendFileSync(log, lines(1, 3));
    renameSync(log, `${log}.1`);
    writeFileSync(log, lines(4, 10));
    renameSync(`${log}.1`, `${log}.2`);
    renameSync(log, `${log}.1`);
    writeFileSync(log, lines(2, 20));
    // ADAPTER_START=end applies to the first run only: these files appeared while it was stopped.
    t = await startAdapter({ ADAPTER_LOG_PATH: glob, ADAPTER_POSITIONS: positions, ADAPTER_START: 'end' });
    expect(await count()).toBe(7);
  });

  it('restart with positions file and a glob, after a rotation while stopped: the rotated file resumes, the new one is read whole', async () => {
    const positions = join(tmp.dir, 'positions.json');
    writeFileSync(log, lines(3));
    const glob = join(tmp.dir, 'access.log*');
    t = await startAdapter({
      ADAPTER_LOG_PATH: glob,
      ADAPTER_POSITIONS: positions,
      ADAPTER_START: 'beginning',
    });
    expect(await count()).toBe(3);
    await t.close();
    t = undefined;
    appendFileSync(log, lines(2, 3)); // written after the stop, before the rotation
    renameSync(log, `${log}.1`);
    writeFileSync(log, lines(4, 5));
    t = await startAdapter({ ADAPTER_LOG_PATH: glob, ADAPTER_POSITIONS: positions, ADAPTER_START: 'end' });
    expect(await count()).toBe(6);
  });

  it('glob: new files are picked up; a rotated file the glob also matches is not read twice', async () => {
    mkdirSync(join(tmp.dir, 'a'));
    const a = join(tmp.dir, 'a', 'access.log');
    writeFileSync(a, lines(2));
    t = await startAdapter({
      ADAPTER_LOG_PATH: join(tmp.dir, '*', 'access.log*'),
      ADAPTER_START: 'beginning',
    });
    expect(await count()).toBe(2);
    mkdirSync(join(tmp.dir, 'b'));
    writeFileSync(join(tmp.dir, 'b', 'access.log'), lines(3));
    expect(await count()).toBe(5);
    expect(await count('log_adapter_files')).toBe(2);
    appendFileSync(a, lines(1, 10));
    renameSync(a, `${a}.1`);
    writeFileSync(a, lines(1, 20));
    expect(await count()).toBe(7);
    await count();
    expect(await count()).toBe(7);
  });
});
