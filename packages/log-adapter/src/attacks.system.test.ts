// Standing attack suite for the adapter: each class of attack that once broke it, replayed with
// variants generated from a seed (ATTACK_SEED, printed on each test's name), so the class stays
// closed and not only the case that was found:
// - kill -9 (and SIGTERM) around rotations by rename and by copytruncate, with exact counts
//   afterwards, line by line: none lost; after a crash only a run of the last lines read is
//   counted again (those since the last positions write), after SIGTERM none;
// - junk, over-long, partial and CRLF lines written in random pieces: exact counts per result;
// - label explosions: every series bounded, nothing dropped, folds counted exactly;
// - catastrophic patterns (filters, regex: formats, route templates) against pumped lines.
// The adapter runs as dist/main.js; every scrape must answer within 2 s (a stalled loop fails).
import { type ChildProcess, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { builtMain, spawnAdapter, tempDir } from './testing.ts';

const SEED = Number(process.env.ATTACK_SEED ?? 20261125);

/** A small deterministic generator (LCG): the same variants for the same seed. */
function random(seed: number) {
  let x = seed >>> 0;
  const next = () => {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    return x >>> 8;
  };
  return {
    int: (lo: number, hi: number) => lo + (next() % (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => xs[next() % xs.length]!,
    chance: (p: number) => next() % 1000 < p * 1000,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const line = (id: number, code = 200, agent = `id-${id}`) =>
  `127.0.0.1 - - [25/Nov/2026:13:55:02 +0000] "GET /p/${id} HTTP/1.1" ${code} 10 "-" "${agent}" 0.004\n`;

let main = '';
const tmp = tempDir();
const children: ChildProcess[] = [];
beforeAll(() => {
  main = builtMain();
});
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});
afterAll(() => tmp.remove());

function adapter(env: Record<string, string>) {
  const p = spawnAdapter(main, env);
  children.push(p.child);
  return p;
}

let dirs = 0;
function scenarioDir(): string {
  const dir = join(tmp.dir, `s${dirs++}`);
  mkdirSync(dir);
  return dir;
}

// ---- kill -9 and SIGTERM around rotations --------------------------------------------------

type Rotation = 'rename' | 'copytruncate';
type Timing = 'rotated while down' | 'rotated just before' | 'written late to the renamed file';
interface CrashVariant {
  seed: number;
  rotation: Rotation;
  timing: Timing;
  stop: 'SIGKILL' | 'SIGTERM';
  /** Rotations while down (more than one needs a glob that reads the rotated names). */
  rotations: number;
  glob: boolean;
  interval: number;
}

function crashVariants(): CrashVariant[] {
  const r = random(SEED);
  const out: CrashVariant[] = [];
  const add = (v: Omit<CrashVariant, 'seed' | 'interval'>) =>
    out.push({ ...v, seed: r.int(1, 2 ** 30), interval: r.pick([100, 150, 250, 400]) });
  for (const rotation of ['rename', 'copytruncate'] as const)
    for (const timing of ['rotated while down', 'rotated just before'] as const) {
      add({ rotation, timing, stop: 'SIGKILL', rotations: 1, glob: false });
      add({ rotation, timing, stop: 'SIGKILL', rotations: 1, glob: false });
      add({ rotation, timing, stop: 'SIGTERM', rotations: 1, glob: false });
    }
  add({
    rotation: 'rename',
    timing: 'written late to the renamed file',
    stop: 'SIGKILL',
    rotations: 1,
    glob: false,
  });
  add({
    rotation: 'rename',
    timing: 'written late to the renamed file',
    stop: 'SIGKILL',
    rotations: 1,
    glob: true,
  });
  add({
    rotation: 'rename',
    timing: 'written late to the renamed file',
    stop: 'SIGTERM',
    rotations: 1,
    glob: false,
  });
  add({ rotation: 'rename', timing: 'rotated while down', stop: 'SIGKILL', rotations: 2, glob: true });
  add({ rotation: 'rename', timing: 'rotated while down', stop: 'SIGKILL', rotations: 3, glob: true });
  return out;
}

describe(`kill -9 and SIGTERM around rotations (ATTACK_SEED=${SEED})`, () => {
  it.each(crashVariants())(
    '$stop, $rotation, $timing (x$rotations, glob $glob, positions every $interval ms, seed $seed)',
    async (v) => {
      const r = random(v.seed);
      const dir = scenarioDir();
      const log = join(dir, 'access.log');
      const config = join(dir, 'adapter.yaml');
      // One series per line: how often each line was counted, line by line.
      writeFileSync(config, 'metrics:\n  - name: by_id_total\n    labels: { id: http_user_agent }\n');
      const env = {
        ADAPTER_LOG_PATH: v.glob ? join(dir, 'access.log*') : log,
        ADAPTER_POSITIONS: join(dir, 'positions.json'),
        ADAPTER_POSITIONS_INTERVAL: `${v.interval}ms`,
        ADAPTER_CONFIG: config,
        ADAPTER_MAX_SERIES: '100000',
      };
      let next = 0;
      const write = (file: string, n: number) => {
        let text = '';
        for (let i = 0; i < n; i++) text += line(next++);
        appendFileSync(file, text);
      };
      /** Writes n lines in random batches with random pauses, so positions writes land anywhere. */
      const stream = async (file: string, n: number) => {
        while (n > 0) {
          const k = Math.min(n, r.int(1, 40));
          write(file, k);
          n -= k;
          await sleep(r.int(0, 60));
        }
      };
      let kept = 0;
      const rotate = () => {
        for (let k = kept; k >= 1; k--) renameSync(`${log}.${k}`, `${log}.${k + 1}`);
        kept++;
        if (v.rotation === 'rename') {
          renameSync(log, `${log}.1`);
          writeFileSync(log, '');
        } else {
          copyFileSync(log, `${log}.1`);
          truncateSync(log, 0);
        }
      };

      writeFileSync(log, '');
      const first = adapter({ ...env, ADAPTER_START: 'beginning' });
      await first.port;
      await stream(log, r.int(50, 300));
      if (v.timing === 'rotated just before') {
        rotate();
        await stream(log, r.int(0, 100));
      } else if (v.timing === 'written late to the renamed file') {
        rotate();
        // The writer has not reopened yet: lines go on into the renamed file, and some to the new one.
        await stream(`${log}.1`, r.int(1, 60));
        await stream(log, r.int(0, 40));
      }
      // Wait until it has read everything (so its counts are final), then stop it at a random
      // moment of its positions interval.
      await first.parsed(next);
      await sleep(r.int(0, v.interval));
      const before = counts(await first.scrape());
      first.child.kill(v.stop);
      expect(await first.exited).toBe(v.stop === 'SIGTERM' ? 0 : null);
      const writtenBeforeStop = next;

      if (v.timing === 'written late to the renamed file') write(`${log}.1`, r.int(1, 30));
      // A line cut by the stop, finished while the adapter is down.
      const partial = line(next++);
      const cut = r.int(1, partial.length - 1);
      appendFileSync(log, partial.slice(0, cut));
      appendFileSync(log, partial.slice(cut));
      if (v.timing === 'rotated while down')
        for (let i = 0; i < v.rotations; i++) {
          write(log, r.int(0, 30));
          rotate();
        }
      write(log, r.int(0, 50));

      const second = adapter(env);
      await second.port; // it listens after its first pass: everything there is has been read
      const after = counts(await second.scrape());

      const total = (id: number) => (before.get(id) ?? 0) + (after.get(id) ?? 0);
      const ids = Array.from({ length: next }, (_, id) => id);
      // None lost, none counted more than twice.
      expect(ids.filter((id) => total(id) === 0)).toEqual([]);
      expect(ids.filter((id) => total(id) > 2)).toEqual([]);
      const twice = ids.filter((id) => total(id) === 2);
      if (v.stop === 'SIGTERM') {
        expect(twice).toEqual([]);
      } else {
        // Counted again: only the lines read last before the crash, a run with no gap.
        for (const id of twice) expect(id).toBeLessThan(writtenBeforeStop);
        if (twice.length > 0) expect(twice.at(-1)! - twice[0]! + 1).toBe(twice.length);
        if (twice.length > 0) expect(twice.at(-1)).toBe(lastRead(before));
      }
      expect([...after.values()].reduce((a, b) => a + b, 0)).toBe(
        (await second.scrape()).get('http_requests_total{method="GET",code="200"}'),
      );
    },
  );
});

/** Per line id, how often the by_id_total counter saw it. */
function counts(m: Map<string, number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const [k, v] of m) {
    const id = /^by_id_total\{id="id-(\d+)"\}$/.exec(k)?.[1];
    if (id !== undefined) out.set(Number(id), v);
  }
  return out;
}

/** The last line the first run counted (lines are written, and read, in id order). */
function lastRead(before: Map<number, number>): number {
  return Math.max(...before.keys());
}

// ---- junk, long, partial and CRLF lines ----------------------------------------------------

describe(`junk, over-long, partial and CRLF lines in random pieces (ATTACK_SEED=${SEED})`, () => {
  const variants = Array.from({ length: 6 }, (_, i) => ({
    variant: i,
    seed: random(SEED + i).int(1, 2 ** 30),
  }));
  it.each(variants)('variant $variant (seed $seed): exact counts per result', async ({ seed }) => {
    const r = random(seed);
    const maxLine = r.pick([200, 512, 1024, 4096]);
    const dir = scenarioDir();
    const log = join(dir, 'access.log');
    writeFileSync(log, '');
    const expected = { parsed: 0, unparsed: 0, too_long: 0 };
    let text = '';
    for (let i = 0; i < 400; i++) {
      const kind = r.pick(['ok', 'ok', 'ok', 'crlf', 'junk', 'empty', 'long', 'long-junk'] as const);
      if (kind === 'ok' || kind === 'crlf') {
        const l = line(i, r.pick([200, 301, 404, 500]));
        text += kind === 'crlf' ? `${l.slice(0, -1)}\r\n` : l;
        if (l.length - 1 > maxLine) expected.too_long++;
        else expected.parsed++;
      } else if (kind === 'junk' || kind === 'long-junk') {
        const n = kind === 'junk' ? r.int(1, maxLine) : r.int(maxLine + 1, maxLine * 3);
        const bytes = Buffer.alloc(n);
        for (let j = 0; j < n; j++) {
          let b = r.int(0, 255);
          if (b === 10 || b === 13) b = 0; // no line ends inside
          bytes[j] = b;
        }
        text += `${bytes.toString('latin1')}\n`;
        if (kind === 'junk') expected.unparsed++;
        else expected.too_long++;
      } else if (kind === 'empty') {
        text += '\n';
        expected.unparsed++;
      } else {
        text += `${line(i).slice(0, -1)}${'x'.repeat(maxLine)}\n`;
        expected.too_long++;
      }
    }
    const p = adapter({
      ADAPTER_LOG_PATH: log,
      ADAPTER_START: 'beginning',
      ADAPTER_MAX_LINE: String(maxLine),
    });
    await p.port;
    // Written in random pieces, cutting lines (and multi-byte characters) anywhere.
    const bytes = Buffer.from(text, 'latin1');
    for (let at = 0; at < bytes.length; ) {
      const n = Math.min(bytes.length - at, r.int(1, maxLine * 2));
      appendFileSync(log, bytes.subarray(at, at + n));
      at += n;
      if (r.chance(0.2)) await sleep(r.int(0, 30));
    }
    const m = await waitForTotal(p, expected.parsed + expected.unparsed + expected.too_long);
    expect({
      parsed: m.get('log_adapter_lines_total{result="parsed"}'),
      unparsed: m.get('log_adapter_lines_total{result="unparsed"}'),
      too_long: m.get('log_adapter_lines_total{result="too_long"}'),
    }).toEqual(expected);
    let requests = 0;
    for (const [k, v] of m) if (k.startsWith('http_requests_total{')) requests += v;
    expect(requests).toBe(expected.parsed);
  });
});

async function waitForTotal(p: ReturnType<typeof adapter>, n: number): Promise<Map<string, number>> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const m = await p.scrape();
    let total = 0;
    for (const [k, v] of m) if (k.startsWith('log_adapter_lines_total{')) total += v;
    if (total >= n) return m;
    if (Date.now() > deadline) throw new Error(`timed out: ${total} of ${n} lines`);
    await sleep(25);
  }
}

// ---- label explosions ----------------------------------------------------------------------

describe(`label explosions (ATTACK_SEED=${SEED})`, () => {
  const variants = Array.from({ length: 4 }, (_, i) => ({
    variant: i,
    seed: random(SEED * 3 + i).int(1, 2 ** 30),
  }));
  it.each(variants)(
    'variant $variant (seed $seed): series bounded, nothing dropped, folds exact',
    async ({ seed }) => {
      const r = random(seed);
      const max = r.pick([5, 20, 50]);
      const dir = scenarioDir();
      const log = join(dir, 'access.log');
      const config = join(dir, 'adapter.yaml');
      writeFileSync(
        config,
        'routes: [/api/:id, /static/*]\nmetrics:\n  - name: by_agent_total\n    labels: { agent: http_user_agent, route: route }\n',
      );
      writeFileSync(log, '');
      const methods = ['GET', 'POST', 'DELETE', 'BREW', 'G\\"ET', 'X'.repeat(r.int(1, 300)), 'get'];
      let text = '';
      const lines = 1500;
      const seen = { requests: new Set<string>(), agents: new Set<string>() };
      const folded = { requests: 0, agents: 0 };
      const known = new Set(['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE']);
      for (let i = 0; i < lines; i++) {
        const method = r.pick(methods);
        const code = r.int(100, 599);
        const agent = r.chance(0.5) ? `bot-${r.int(0, 100_000)}` : 'curl';
        const path = r.pick(['/api/', '/static/', '/x/']) + r.int(0, 1e6);
        text += `10.0.0.1 - - [25/Nov/2026:13:55:02 +0000] "${method} ${path} HTTP/1.1" ${code} 1 "-" "${agent}" 0.001\n`;
        // What the adapter must do: the first `max` label sets in read order get a series, the rest fold.
        const m = known.has(method) ? method : 'OTHER';
        const route = path.startsWith('/api/')
          ? '/api/:id'
          : path.startsWith('/static/')
            ? '/static/*'
            : 'other';
        for (const [set, key, name] of [
          [seen.requests, `${m} ${code}`, 'requests'],
          [seen.agents, `${agent} ${route}`, 'agents'],
        ] as const) {
          if (!set.has(key) && set.size < max) set.add(key);
          if (!set.has(key)) folded[name]++;
        }
      }
      const p = adapter({
        ADAPTER_LOG_PATH: log,
        ADAPTER_START: 'beginning',
        ADAPTER_CONFIG: config,
        ADAPTER_MAX_SERIES: String(max),
      });
      await p.port;
      appendFileSync(log, text);
      await p.parsed(lines);
      const m = await p.scrape();
      const series = (name: string) => [...m].filter(([k]) => k.startsWith(`${name}{`));
      for (const name of ['http_requests_total', 'http_response_size_bytes_total', 'by_agent_total']) {
        expect(series(name).length).toBeLessThanOrEqual(max + 1);
        expect(series(name).reduce((a, [, v]) => a + v, 0)).toBe(lines); // every line, 1 byte each
      }
      for (const [k] of series('http_requests_total'))
        expect(k).toMatch(
          /^http_requests_total\{method="(GET|POST|HEAD|PUT|DELETE|PATCH|OPTIONS|CONNECT|TRACE|OTHER|__overflow__)",code="(\d{3}|__overflow__)"\}$/,
        );
      expect(m.get('log_adapter_series_overflow_total{metric="http_requests_total"}') ?? 0).toBe(
        folded.requests,
      );
      expect(m.get('log_adapter_series_overflow_total{metric="by_agent_total"}') ?? 0).toBe(folded.agents);
      const text2 = await (await fetch(`http://127.0.0.1:${await p.port}/metrics`)).text();
      const check = spawnSync('promtool', ['check', 'metrics'], { input: text2, encoding: 'utf8' });
      if (check.error) throw new Error('promtool is not installed: run scripts/install-system-deps.sh');
      expect(check.stdout + check.stderr).toBe('');
    },
  );
});

// ---- catastrophic patterns -----------------------------------------------------------------

/** Patterns that backtrack exponentially or polynomially, with a line that matches and one that almost does. */
const EVIL: { pattern: string; pump: (n: number) => string; fail: string }[] = [
  { pattern: '(a+)+$', pump: (n) => 'a'.repeat(n), fail: '!' },
  { pattern: '^(a|aa)+$', pump: (n) => 'a'.repeat(n), fail: '!' },
  { pattern: '^(a|a?)+$', pump: (n) => 'a'.repeat(n), fail: '!' },
  { pattern: '^(\\w+\\s?)+$', pump: (n) => 'ab '.repeat(Math.ceil(n / 3)).trim(), fail: ' !' },
  { pattern: '^(.*a){12}$', pump: (n) => 'a'.repeat(Math.max(12, n)), fail: '!' },
  { pattern: '^([a-z]+)*[0-9]$', pump: (n) => `${'b'.repeat(n)}1`, fail: '!' },
];

describe(`catastrophic patterns against pumped lines (ATTACK_SEED=${SEED})`, () => {
  const r = random(SEED * 7);
  const variants = EVIL.map((e, i) => ({ ...e, variant: i, n: r.int(30, 3000) }));

  it.each(variants)('filter $pattern, pumped to $n: counted at once, /metrics answers', async (e) => {
    const dir = scenarioDir();
    const log = join(dir, 'access.log');
    const config = join(dir, 'adapter.yaml');
    writeFileSync(
      config,
      `metrics:\n  - name: matched_total\n    filter: { http_user_agent: ${JSON.stringify(e.pattern)} }\n`,
    );
    writeFileSync(log, '');
    const p = adapter({ ADAPTER_LOG_PATH: log, ADAPTER_CONFIG: config });
    await p.port;
    const pumped = e.pump(e.n);
    appendFileSync(
      log,
      line(0, 200, `${pumped}${e.fail}`) + line(1, 200, pumped) + line(2, 200, `${pumped}${e.fail}`),
    );
    await p.parsed(3);
    expect((await p.scrape()).get('matched_total')).toBe(1);
  });

  it.each(variants)('regex: format around $pattern, pumped to $n: parsed or unparsed at once', async (e) => {
    const dir = scenarioDir();
    const log = join(dir, 'access.log');
    writeFileSync(log, '');
    const inner = e.pattern.replace(/^\^/, '').replace(/\$$/, '');
    const p = adapter({
      ADAPTER_LOG_PATH: log,
      ADAPTER_FORMAT: `regex:^(?<method>[A-Z]+) (?<status>\\d{3}) (?<rest>${inner})$`,
    });
    await p.port;
    const pumped = e.pump(e.n);
    appendFileSync(log, `GET 200 ${pumped}${e.fail}\nGET 200 ${pumped}\nGET 200 ${pumped}${e.fail}\n`);
    await waitForTotal(p, 3);
    const m = await p.scrape();
    expect(m.get('log_adapter_lines_total{result="parsed"}')).toBe(1);
    expect(m.get('log_adapter_lines_total{result="unparsed"}')).toBe(2);
  });

  it.each([
    ['a long upstream time list', (n: number) => `${'0.010, '.repeat(n)}0.020 : x`],
    ['a long run of quotes and spaces', (n: number) => '" '.repeat(n)],
    ['a long run of digits and dots', (n: number) => `${'1.'.repeat(n)}1.`],
  ] as const)(
    'an nginx log_format (run on V8) against %s: parsed or unparsed at once',
    async (_what, pump) => {
      const dir = scenarioDir();
      const log = join(dir, 'access.log');
      writeFileSync(log, '');
      const p = adapter({
        ADAPTER_LOG_PATH: log,
        ADAPTER_MAX_LINE: '64Ki',
        ADAPTER_FORMAT:
          '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $upstream_response_time',
      });
      await p.port;
      const n = r.int(2000, 6000);
      const head = '10.0.0.1 - - [25/Nov/2026:13:55:02 +0000] "GET / HTTP/1.1" 200 5 "-"';
      appendFileSync(log, `${head} "${pump(n)}" ${pump(n)}\n${head} "curl" 0.010, 0.020\n`);
      await waitForTotal(p, 2);
      const m = await p.scrape();
      expect(m.get('log_adapter_lines_total{result="parsed"}')).toBe(1);
      expect(m.get('log_adapter_lines_total{result="unparsed"}')).toBe(1);
    },
  );

  it.each([3, 4, 5].map((stars) => ({ stars, n: r.int(1000, 3500) })))(
    'route template with $stars stars, path repeating its literals $n times: matched at once',
    async ({ stars, n }) => {
      const dir = scenarioDir();
      const log = join(dir, 'access.log');
      const config = join(dir, 'adapter.yaml');
      const literals = ['x', 'y', 'z', 'w', 'v'].slice(0, stars);
      const template = literals.map((l) => `/*/${l}`).join('');
      writeFileSync(
        config,
        `routes: [${template}]\nmetrics:\n  - name: by_route_total\n    labels: { route: route }\n`,
      );
      writeFileSync(log, '');
      const p = adapter({ ADAPTER_LOG_PATH: log, ADAPTER_CONFIG: config, ADAPTER_MAX_LINE: '64Ki' });
      await p.port;
      const body = `/${literals.slice(0, -1).join('/')}`.repeat(n);
      appendFileSync(
        log,
        line(0).replace('/p/0', `${body}/q`) + line(1).replace('/p/1', `/a${template.replaceAll('*', 'b')}`),
      );
      await p.parsed(2);
      const m = await p.scrape();
      expect(m.get('by_route_total{route="other"}')).toBe(1);
      expect(m.get(`by_route_total{route="${template}"}`)).toBe(1);
    },
  );
});
