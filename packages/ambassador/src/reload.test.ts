// Config reload as Kubernetes does it: the ConfigMap volume swaps a `..data` symlink. A good file
// is applied at once and atomically; a bad one keeps the old config and says so in logs and metrics.
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './test-files.ts';
import {
  get,
  metricValue,
  type Origin,
  startAmbassador,
  startNamedOrigin,
  type TestAmbassador,
  waitFor,
} from './test-helpers.ts';

/** A ConfigMap-style folder: file -> ..data/file, ..data -> ..<version>. */
class ConfigMapDir {
  readonly dir = tempDir();
  #n = 0;
  readonly file = join(this.dir, 'ambassador.yaml');

  constructor(text: string) {
    this.#write(text);
    symlinkSync('..data/ambassador.yaml', this.file);
  }

  update(text: string): void {
    this.#write(text);
  }

  #write(text: string): void {
    const version = `..v${++this.#n}`;
    mkdirSync(join(this.dir, version));
    writeFileSync(join(this.dir, version, 'ambassador.yaml'), text);
    symlinkSync(version, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
  }
}

const config = (pool: string, origins: Record<string, Origin>) => `
listeners:
  - { name: web, port: 0, pool: ${pool} }
pools:
${Object.entries(origins)
  .map(([name, o]) => `  ${name}: { upstreams: [${o.url}] }`)
  .join('\n')}
`;

describe('reload', () => {
  let blue: Origin;
  let green: Origin;
  let cm: ConfigMapDir;
  let amb: TestAmbassador;
  beforeAll(async () => {
    blue = await startNamedOrigin('blue');
    green = await startNamedOrigin('green');
    cm = new ConfigMapDir(config('blue', { blue, green }));
    amb = await startAmbassador({ AMBASSADOR_CONFIG: cm.file, AMBASSADOR_TEST_WATCH: 'true' });
  });
  afterAll(async () => {
    await amb.stop();
    await blue.close();
    await green.close();
  });

  it('applies a good new file when the ..data symlink is swapped', async () => {
    expect((await get(`${amb.url}/`)).body).toBe('blue');
    cm.update(config('green', { blue, green }));
    await waitFor('the new config to be applied', async () => (await get(`${amb.url}/`)).body === 'green');
    expect(await metricValue(amb, 'ambassador_config_reloads_total', { result: 'applied' })).toBe(1);
    expect(await metricValue(amb, 'ambassador_config_last_reload_successful')).toBe(1);
  });

  it('keeps the running config when the new file is bad, and reports it', async () => {
    cm.update('listeners:\n  - name: web\n    port: 0\n    pool: nowhere\npools: {}\n');
    await waitFor(
      'the rejection',
      async () => (await metricValue(amb, 'ambassador_config_reloads_total', { result: 'rejected' })) === 1,
    );
    expect(await metricValue(amb, 'ambassador_config_last_reload_successful')).toBe(0);
    for (let i = 0; i < 3; i++) expect((await get(`${amb.url}/`)).body).toBe('green');
  });

  it('refuses a change of listeners (that needs a restart) and keeps serving', async () => {
    cm.update(config('blue', { blue, green }).replace('port: 0', 'port: 1'));
    await waitFor(
      'the rejection',
      async () => (await metricValue(amb, 'ambassador_config_reloads_total', { result: 'rejected' })) === 2,
    );
    expect((await get(`${amb.url}/`)).body).toBe('green');
  });

  it('recovers with the next good file, and ignores saves that change nothing', async () => {
    cm.update(config('blue', { blue, green }));
    await waitFor('blue again', async () => (await get(`${amb.url}/`)).body === 'blue');
    expect(await metricValue(amb, 'ambassador_config_last_reload_successful')).toBe(1);
    expect(amb.reload()).toBe('unchanged');
  });

  it('swaps atomically: requests during many reloads all succeed', async () => {
    // Its own ambassador without the watcher, so each reload() here is the one that applies.
    const own = new ConfigMapDir(config('blue', { blue, green }));
    const amb = await startAmbassador({ AMBASSADOR_CONFIG: own.file });
    const cm = own;
    const results: string[] = [];
    let stop = false;
    const load = (async () => {
      while (!stop) results.push((await get(`${amb.url}/`)).body);
    })();
    for (let i = 0; i < 6; i++) {
      cm.update(config(i % 2 ? 'blue' : 'green', { blue, green }) + `# ${i}\n`);
      expect(amb.reload()).toBe('applied');
      await new Promise((r) => setTimeout(r, 20));
    }
    stop = true;
    await load;
    expect(results.length).toBeGreaterThan(5);
    expect(results.every((r) => r === 'blue' || r === 'green')).toBe(true);
    await amb.stop();
  });
});
