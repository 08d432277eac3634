// Patterns an operator writes cannot stall the adapter: a filter, a regex: format and route
// templates, each given a crafted line that makes a backtracking engine run for minutes or hours.
// The adapter runs as a process, so a stalled event loop shows as /metrics not answering (and
// the test ends at its deadline instead of hanging with it).
import { type ChildProcess, spawnSync } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { builtMain, spawnAdapter, tempDir } from './testing.ts';

let main = '';
const line = (path: string, code = 200) =>
  `127.0.0.1 - - [25/Nov/2026:13:55:02 +0000] "GET ${path} HTTP/1.1" ${code} 10 "-" "curl/8.5.0" 0.004\n`;

describe('operator patterns against crafted lines', () => {
  const tmp = tempDir();
  const children: ChildProcess[] = [];
  beforeAll(() => {
    main = builtMain();
  });
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
  });
  afterAll(() => tmp.remove());

  const run = (name: string, env: Record<string, string>, config?: string) => {
    const log = join(tmp.dir, `${name}.log`);
    writeFileSync(log, '');
    const extra: Record<string, string> = {};
    if (config) {
      extra.ADAPTER_CONFIG = join(tmp.dir, `${name}.yaml`);
      writeFileSync(extra.ADAPTER_CONFIG, config);
    }
    const p = spawnAdapter(main, { ADAPTER_LOG_PATH: log, ...extra, ...env });
    children.push(p.child);
    return { ...p, log };
  };

  it('a filter (a+)+$ and a path of 40 a and a "!": counted at once, /metrics answers', async () => {
    const p = run('filter', {}, 'metrics:\n  - name: a_paths_total\n    filter: { path: "(a+)+$" }\n');
    await p.port;
    appendFileSync(p.log, line(`/${'a'.repeat(40)}!`) + line('/aaaa'));
    await p.parsed(2);
    expect((await p.scrape()).get('a_paths_total')).toBe(1);
  });

  it('a regex: format with a nested quantifier and a line that almost matches: unparsed at once', async () => {
    const p = run('format', {
      ADAPTER_FORMAT: 'regex:^(?<method>[A-Z]+) (?<status>\\d{3}) (?<agent>(\\w+\\s?)+)$',
    });
    await p.port;
    appendFileSync(p.log, `GET 200 ${'word '.repeat(30)}!\nGET 200 curl\n`);
    await p.parsed(1);
    const m = await p.scrape();
    expect(m.get('log_adapter_lines_total{result="unparsed"}')).toBe(1);
    expect(m.get('http_requests_total{method="GET",code="200"}')).toBe(1);
  });

  it('route templates with several * and a path that repeats their literals: matched at once', async () => {
    const p = run(
      'routes',
      {},
      'routes: [/*/x/*/y/*/z]\nmetrics:\n  - name: by_route_total\n    labels: { route: route }\n',
    );
    await p.port;
    appendFileSync(p.log, line(`${'/x/y'.repeat(3000)}/q`) + line('/a/x/b/y/c/z'));
    await p.parsed(2);
    const m = await p.scrape();
    expect(m.get('by_route_total{route="other"}')).toBe(1);
    expect(m.get('by_route_total{route="/*/x/*/y/*/z"}')).toBe(1);
  });

  it.each([
    [
      'a backreference',
      'regex:^(?<method>\\w+) (?<status>\\d{3}) (\\w+) \\3$',
      'invalid escape sequence: `\\3`',
    ],
    [
      'a lookahead',
      'regex:^(?<method>\\w+) (?<status>(?!5)\\d{3})',
      'invalid or unsupported Perl syntax: `(?!`',
    ],
  ])('a regex: format with %s: exit 2, one line naming ADAPTER_FORMAT and RE2', (_what, format, detail) => {
    const r = spawnSync(process.execPath, [main], {
      env: { ...process.env, ADAPTER_PORT: '0', ADAPTER_FORMAT: format },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(2);
    const out = r.stderr.trim().split('\n');
    expect(out).toHaveLength(1);
    expect(out[0]).toContain('invalid setting --format / ADAPTER_FORMAT: not a valid regular expression: ');
    expect(out[0]).toContain(detail);
    expect(out[0]).toContain('patterns use RE2 syntax (linear-time matching): no backreferences');
  });
});
