// ADAPTER_CONFIG reloaded as Kubernetes updates a ConfigMap: the `..data` symlink swapped. A good
// file is applied without a restart (metrics it keeps keep their counts), a bad one is refused with
// the running one kept, and both show in the log and in metrics.
import { appendFileSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@multipod/service/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logLines, startAdapter, type TestAdapter, tempDir } from './testing.ts';

/** A ConfigMap-style folder: adapter.yaml -> ..data/adapter.yaml, ..data -> ..v<n>. */
class ConfigMapDir {
  readonly file: string;
  readonly #dir: string;
  #n = 0;

  constructor(dir: string, text: string) {
    this.#dir = dir;
    this.file = join(dir, 'adapter.yaml');
    this.update(text);
    symlinkSync('..data/adapter.yaml', this.file);
  }

  update(text: string): void {
    const version = `..v${++this.#n}`;
    mkdirSync(join(this.#dir, version));
    writeFileSync(join(this.#dir, version, 'adapter.yaml'), text);
    symlinkSync(version, join(this.#dir, '..data_tmp'));
    renameSync(join(this.#dir, '..data_tmp'), join(this.#dir, '..data'));
  }
}

const line = (method: string, path: string, code = 200) =>
  `127.0.0.1 - - [25/Nov/2026:13:55:02 +0000] "${method} ${path} HTTP/1.1" ${code} 10 "-" "curl/8.5.0" 0.004\n`;

const v1 = `
routes: [/a, /b]
metrics:
  - name: by_route_total
    labels: { route: route }
  - name: errors_total
    filter: { status: "^5" }
`;
const v2 = `
routes: [/a, /b, /c]
metrics:
  - name: by_route_total
    labels: { route: route }
  - name: posts_total
    filter: { method: "^POST$" }
`;

describe('ADAPTER_CONFIG reload', () => {
  const tmp = tempDir();
  const log = join(tmp.dir, 'access.log');
  const captured = logLines();
  let cm: ConfigMapDir;
  let t: TestAdapter;

  beforeAll(async () => {
    mkdirSync(join(tmp.dir, 'config'));
    cm = new ConfigMapDir(join(tmp.dir, 'config'), v1);
    writeFileSync(log, '');
    t = await startAdapter(
      { ADAPTER_LOG_PATH: log, ADAPTER_CONFIG: cm.file, ADAPTER_LOG_LEVEL: 'info' },
      { log: captured.stream, watchConfig: true },
    );
  });
  afterAll(async () => {
    await t.close();
    tmp.remove();
  });

  const write = async (text: string) => {
    appendFileSync(log, text);
    await t.adapter.poll();
  };
  const reloads = async (result: string) =>
    (await t.scrape()).get(`log_adapter_config_reloads_total{result="${result}"}`);

  it('applies a good file when the ..data symlink is swapped; kept metrics keep their counts', async () => {
    await write(line('GET', '/a') + line('GET', '/c', 500));
    let m = await t.scrape();
    expect(m.get('by_route_total{route="/a"}')).toBe(1);
    expect(m.get('by_route_total{route="other"}')).toBe(1);
    expect(m.get('errors_total')).toBe(1);

    cm.update(v2);
    await waitFor('the reload', async () => ((await reloads('applied')) === 1 ? true : undefined));
    await write(line('GET', '/a') + line('POST', '/c'));
    m = await t.scrape();
    expect(m.get('by_route_total{route="/a"}')).toBe(2); // not reset by the reload
    expect(m.get('by_route_total{route="/c"}')).toBe(1); // the new route template
    expect(m.get('posts_total')).toBe(1);
    expect([...m.keys()].some((k) => k.startsWith('errors_total'))).toBe(false);
    expect(m.get('log_adapter_config_last_reload_successful')).toBe(1);
    expect(captured.lines.some((l) => l.msg === 'ADAPTER_CONFIG reloaded')).toBe(true);
  });

  it.each([
    ['not YAML', 'metrics: [ {', 'is not valid YAML'],
    ['an unknown key', 'metrics:\n  - name: x_total\n    lables: {}\n', 'metrics[0].lables: unknown key'],
    ['a pattern RE2 refuses', 'metrics:\n  - name: x_total\n    filter: { status: "(?!5)" }\n', 'RE2'],
    [
      'a raw path label',
      'metrics:\n  - name: x_total\n    labels: { p: path }\n',
      'raw "path" labels are refused',
    ],
  ])('refuses %s, keeps the running config, and says so', async (_what, text, message) => {
    const before = (await reloads('rejected')) ?? 0;
    cm.update(text);
    await waitFor('the refusal', async () => ((await reloads('rejected')) === before + 1 ? true : undefined));
    await write(line('POST', '/b'));
    const m = await t.scrape();
    expect(m.get('log_adapter_config_last_reload_successful')).toBe(0);
    expect(m.get('posts_total')).toBeGreaterThan(1); // the running config still counts
    const refusal = captured.lines.findLast((l) =>
      String(l.msg).startsWith('ADAPTER_CONFIG reload rejected'),
    );
    expect(refusal).toMatchObject({ level: 'error' });
    expect(String(refusal!.err)).toContain(message);
  });

  it('recovers with the next good file, and a save that changes nothing is no reload', async () => {
    const applied = (await reloads('applied')) ?? 0;
    cm.update(v1);
    await waitFor('the reload', async () => ((await reloads('applied')) === applied + 1 ? true : undefined));
    expect((await t.scrape()).get('log_adapter_config_last_reload_successful')).toBe(1);
    expect(t.adapter.reload()).toBe('unchanged');
    cm.update(v1);
    expect(t.adapter.reload()).toBe('unchanged');
    // errors_total came back as a new metric: it starts from zero.
    await write(line('GET', '/b', 503));
    expect((await t.scrape()).get('errors_total')).toBe(1);
  });

  it('a file that cannot be read is refused once, not at every look', async () => {
    const rejected = (await reloads('rejected')) ?? 0;
    renameSync(join(tmp.dir, 'config', '..data'), join(tmp.dir, 'config', '..gone'));
    expect(t.adapter.reload()).toBe('rejected');
    expect(t.adapter.reload()).toBe('unchanged');
    expect(await reloads('rejected')).toBe(rejected + 1);
    renameSync(join(tmp.dir, 'config', '..gone'), join(tmp.dir, 'config', '..data'));
    expect(t.adapter.reload()).toBe('applied');
  });
});
