// Golden files, one per format: testdata/<case>.log read from the beginning must give exactly
// testdata/<case>.prom. Set UPDATE_GOLDEN=1 to rewrite them (then read the diff before committing).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startAdapter } from './testing.ts';

const testdata = (name: string) => fileURLToPath(new URL(`../testdata/${name}`, import.meta.url));
const formatFile = (name: string) => readFileSync(testdata(name), 'utf8').trim();

const cases: { name: string; log: string; env: Record<string, string> }[] = [
  { name: 'web', log: 'web.log', env: {} },
  { name: 'combined', log: 'combined.log', env: { ADAPTER_FORMAT: 'combined' } },
  { name: 'common', log: 'common.log', env: { ADAPTER_FORMAT: 'common' } },
  { name: 'json', log: 'json.log', env: { ADAPTER_FORMAT: 'json' } },
  {
    name: 'json-mapped',
    log: 'json-mapped.log',
    env: { ADAPTER_FORMAT: 'json', ADAPTER_CONFIG: testdata('json-mapped.yaml') },
  },
  { name: 'nginx', log: 'nginx.log', env: { ADAPTER_FORMAT: formatFile('nginx.format') } },
  {
    name: 'regex',
    log: 'regex.log',
    env: { ADAPTER_FORMAT: formatFile('regex.format'), ADAPTER_BUCKETS: '0.01,0.1,1' },
  },
  { name: 'custom', log: 'web.log', env: { ADAPTER_CONFIG: testdata('custom.yaml') } },
  {
    name: 'upstreams',
    log: 'upstreams.log',
    env: { ADAPTER_FORMAT: formatFile('upstreams.format'), ADAPTER_CONFIG: testdata('upstreams.yaml') },
  },
  // Stock logs, read with no setting at all (ADAPTER_FORMAT=auto).
  ...[
    'nginx-combined',
    'nginx-main',
    'apache-combined',
    'apache-vhost_combined',
    'apache-common',
    'caddy',
    'traefik',
    'haproxy',
    'ambassador',
  ].map((name) => ({ name: `stock-${name}`, log: `stock-${name}.log`, env: {} })),
];

/** Lines that change from run to run; none today (lag and files are deterministic once read). */
const VOLATILE: RegExp[] = [];

describe('golden files: testdata/<case>.log → <case>.prom', () => {
  it.each(cases)('$name', async ({ name, log, env }) => {
    const t = await startAdapter({ ADAPTER_LOG_PATH: testdata(log), ADAPTER_START: 'beginning', ...env });
    try {
      const text = (await t.text())
        .split('\n')
        .filter((l) => !VOLATILE.some((re) => re.test(l)))
        .join('\n')
        // Paths (in log_adapter_format_info) as the repository has them, wherever it is checked out.
        .replaceAll(testdata(''), 'testdata/');
      const golden = testdata(`${name}.prom`);
      if (process.env.UPDATE_GOLDEN) writeFileSync(golden, text);
      // A missing golden file is a failure, not a file to write: a test that writes its own
      // expectation can never fail.
      expect(existsSync(golden), `missing ${golden}: UPDATE_GOLDEN=1 writes it (read the diff)`).toBe(true);
      expect(text).toBe(readFileSync(golden, 'utf8'));
    } finally {
      await t.close();
    }
  });
});
