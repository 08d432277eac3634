// Every panel's PromQL, run by a real Prometheus against the real components (their bundled
// main.js): clients → ambassador → web → access log → log-adapter, as in the pod, with traffic that
// exercises what the panels show (200s, 404s, 5xx, a pool with a dead upstream so that requests are
// retried and the upstream ejected, requests the ambassador refuses, lines the adapter cannot
// parse). Each query must return data, with the dashboard's variables set as Grafana would, and
// each variable must list the scraped pod. The alerting rules are loaded too: every rule must
// evaluate without error. Grafana itself is out of reach here; its model is checked by
// `pnpm typecheck` (@grafana/schema).
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Panel, VariableModel } from '@grafana/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboards, rulesFile } from './generated.ts';
import type { PromTarget } from './grafana.ts';
import { type Running, startComponent, startPrometheus } from './processes.ts';

const LABELS = { namespace: 'test', pod: 'pod-1' };
/** What Grafana puts in place of its variables for this pod (a 1 s scrape interval). */
const substitute = (expr: string) =>
  expr
    .replaceAll('$__rate_interval', '10s')
    .replaceAll('$namespace', LABELS.namespace)
    .replaceAll('$pod', LABELS.pod);

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

const running: Running[] = [];
let dir: string;
let prometheus: string;
let front: string;
let webPort: number;
let accessLog: string;
let traffic: Promise<void> | undefined;
let stopTraffic = false;

async function query(expr: string): Promise<Sample[]> {
  const res = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: Sample[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data?.result ?? [];
}

/** A request line web refuses with 505 (and logs): the 5xx of the access log. */
function http2RequestLine(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createConnection(port, '127.0.0.1', () => s.end('GET / HTTP/2.0\r\nHost: x\r\n\r\n'));
    s.on('data', () => {});
    s.on('close', () => resolve());
    s.on('error', reject);
  });
}

/** One round of the traffic the panels show, repeated until the queries are done. */
async function round(i: number): Promise<void> {
  const get = (path: string) => fetch(`${front}${path}`).then((r) => r.arrayBuffer());
  await Promise.all([
    get('/'),
    get('/big.txt'),
    get(`/missing-${i}`),
    get('/flaky/'), // a pool with a dead upstream: retried on web, the dead one ejected
    get('/x/..%2Fy'), // refused by the ambassador: bad_request
    http2RequestLine(webPort),
  ]);
  // A line no format reads, in web's own log: counted as unparsed.
  appendFileSync(accessLog, `garbage line ${i}\n`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'multipod-queries-'));
  const www = join(dir, 'www');
  mkdirSync(www);
  writeFileSync(join(www, 'index.html'), '<!doctype html><title>queries</title>\n');
  writeFileSync(join(www, 'big.txt'), 'x'.repeat(64 * 1024));
  mkdirSync(join(dir, 'log'));
  accessLog = join(dir, 'log/access.log');

  const web = await startComponent('web', {
    WEB_PORT: '0',
    WEB_HOST: '127.0.0.1',
    WEB_ROOT: www,
    WEB_ACCESS_LOG: accessLog,
  });
  running.push(web.proc);
  webPort = web.started.port as number;

  const adapter = await startComponent('log-adapter', {
    ADAPTER_PORT: '0',
    ADAPTER_HOST: '127.0.0.1',
    ADAPTER_LOG_PATH: accessLog,
    ADAPTER_START: 'beginning',
  });
  running.push(adapter.proc);

  // A port nothing listens on: the dead upstream of the flaky pool.
  const dead = await (async () => {
    const { createServer } = await import('node:net');
    const s = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => s.once('listening', r));
    const port = (s.address() as { port: number }).port;
    await new Promise((r) => s.close(r));
    return port;
  })();
  const config = join(dir, 'ambassador.yaml');
  writeFileSync(
    config,
    `listeners:
  - name: web
    port: 0
    routes:
      - { pathPrefix: /flaky, rewritePrefix: /, pool: flaky }
      - { pool: app }
pools:
  app:
    upstreams: [http://127.0.0.1:${webPort}]
    healthCheck: { path: /readyz, interval: 1s }
  flaky:
    upstreams: [http://127.0.0.1:${webPort}, http://127.0.0.1:${dead}]
    ejection: { consecutiveFailures: 2, baseTime: 2s, maxTime: 4s }
    retries: { attempts: 1, budget: 100 }
`,
  );
  const ambassador = await startComponent('ambassador', {
    AMBASSADOR_CONFIG: config,
    AMBASSADOR_ADMIN_PORT: '0',
    AMBASSADOR_HOST: '127.0.0.1',
    AMBASSADOR_ACCESS_LOG: 'false',
  });
  running.push(ambassador.proc);
  const [listener] = ambassador.started.listeners as string[];
  front = `http://127.0.0.1:${/:(\d+)$/.exec(listener ?? '')?.[1]}`;

  const prometheusConfig = join(dir, 'prometheus.yml');
  const labels = JSON.stringify(LABELS);
  writeFileSync(
    prometheusConfig,
    `global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [${JSON.stringify(rulesFile)}]
scrape_configs:
  - job_name: log-adapter
    static_configs: [{ targets: ["127.0.0.1:${adapter.started.port}"], labels: ${labels} }]
  - job_name: ambassador
    static_configs: [{ targets: ["127.0.0.1:${ambassador.started.adminPort}"], labels: ${labels} }]
`,
  );
  const prom = await startPrometheus(dir, prometheusConfig);
  running.push(prom.proc);
  prometheus = prom.url;

  traffic = (async () => {
    for (let i = 0; !stopTraffic; i++) {
      await round(i);
      await sleep(100);
    }
  })();
}, 60_000);

afterAll(async () => {
  stopTraffic = true;
  await traffic?.catch(() => {});
  await Promise.all(running.map((p) => p.stop()));
  rmSync(dir, { recursive: true, force: true });
});

/** Polls a query until it returns finite values (or gives its last answer and the processes' output). */
async function returnsData(expr: string): Promise<Sample[]> {
  const deadline = Date.now() + 60_000;
  let last: Sample[] | string = [];
  while (Date.now() < deadline) {
    try {
      last = await query(expr);
      if (last.length > 0 && last.every((s) => Number.isFinite(Number(s.value[1])))) return last;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(500);
  }
  throw new Error(
    `no data for ${expr}\nlast answer: ${JSON.stringify(last)}\n${running.map((r) => r.output().slice(-2000)).join('\n---\n')}`,
  );
}

for (const [name, dashboard] of Object.entries(dashboards)) {
  const panels = (dashboard.panels ?? []).filter((p): p is Panel => p.type !== 'row');
  describe(`dashboard ${name}`, () => {
    const cases = panels.flatMap((p) =>
      ((p.targets ?? []) as PromTarget[]).map((t) => [`${p.title} [${t.refId}]`, t.expr] as const),
    );
    it.each(cases)('%s returns data', async (_title, expr) => {
      const samples = await returnsData(substitute(expr));
      expect(samples.length).toBeGreaterThan(0);
    });

    const queried = (dashboard.templating?.list ?? []).filter((v: VariableModel) => v.type === 'query');
    it.each(queried.map((v) => [v.name, v] as const))(
      'variable %s lists the scraped pod',
      async (label, v) => {
        // label_values(<selector>, <label>) is Grafana's: Prometheus's label-values API answers it.
        const m = /^label_values\((.+), (\w+)\)$/.exec((v.query as { query: string }).query);
        expect(m?.[2]).toBe(label);
        const match = substitute(m?.[1] ?? '');
        const res = await fetch(
          `${prometheus}/api/v1/label/${label}/values?match[]=${encodeURIComponent(match)}`,
        );
        const body = (await res.json()) as { data: string[] };
        expect(body.data).toContain(LABELS[label as keyof typeof LABELS]);
      },
    );
  });
}

describe('alerting rules', () => {
  it('every rule evaluates without error against the real metrics', async () => {
    // Two evaluations after every panel had data: each rule has run on the real series.
    await returnsData(
      substitute('sum(rate(ambassador_requests_total{namespace=~"$namespace"}[$__rate_interval]))'),
    );
    await sleep(2_500);
    const res = await fetch(`${prometheus}/api/v1/rules`);
    const body = (await res.json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const rules = body.data.groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThan(10);
    expect(
      rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`),
    ).toEqual([]);
  });
});
