// What can be checked without Grafana or Prometheus: the files users import are the ones the
// sources make, every panel is laid out and queries what the dashboard's variables select, and
// every metric a dashboard or an alert reads is one a component documents (so a renamed metric
// cannot leave a panel empty). That each query returns data is queries.system.test.ts's job.
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Panel } from '@grafana/schema';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { dashboards, generatedFiles, repoRoot, rulesFile } from './generated.ts';
import { DATASOURCE, type PromTarget } from './grafana.ts';
import { metricsIn } from './promql.ts';

const panelsOf = (name: string): Panel[] =>
  (dashboards[name]?.panels ?? []).filter((p): p is Panel => p.type !== 'row');
const targetsOf = (p: Panel) => (p.targets ?? []) as PromTarget[];

/** The metrics a component's README names in backticks, by component. */
function documented(): Set<string> {
  const out = new Set<string>();
  for (const c of ['log-adapter', 'ambassador', 'content-sync']) {
    const text = readFileSync(join(repoRoot, 'packages', c, 'README.md'), 'utf8');
    for (const m of text.matchAll(/`((?:http|log_adapter|ambassador|content_sync)_[a-z0-9_]+)/g))
      if (m[1]) out.add(m[1]);
  }
  return out;
}

const alertExprs = (): { alert: string; expr: string }[] =>
  (
    parse(readFileSync(rulesFile, 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] }
  ).groups
    .flatMap((g) => g.rules)
    .map((r) => ({ alert: r.alert, expr: r.expr }));

describe('generated files', () => {
  it.each([...generatedFiles()].map(([file, text]) => [relative(repoRoot, file), file, text] as const))(
    '%s is what node observability/src/write.ts writes',
    (_name, file, text) => {
      expect(existsSync(file), `${file} is missing: run node observability/src/write.ts`).toBe(true);
      expect(readFileSync(file, 'utf8'), 'stale: run node observability/src/write.ts').toBe(text);
    },
  );
});

describe.each(Object.keys(dashboards))('dashboard %s', (name) => {
  const panels = panelsOf(name);

  it('has a uid, unique panel ids, and panels that fit the 24-column grid without overlapping', () => {
    expect(dashboards[name]?.uid).toMatch(/^multipod-/);
    const all = dashboards[name]?.panels ?? [];
    const ids = all.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of all) {
      const g = p.gridPos;
      if (!g) throw new Error(`panel ${p.title} has no gridPos`);
      expect((g.x ?? 0) + g.w, p.title).toBeLessThanOrEqual(24);
      for (let x = g.x ?? 0; x < (g.x ?? 0) + g.w; x++)
        for (let y = g.y ?? 0; y < (g.y ?? 0) + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
    }
  });

  it('every panel queries the chosen data source, namespace and pod', () => {
    expect(panels.length).toBeGreaterThan(0);
    for (const p of panels) {
      expect(p.datasource?.uid, p.title).toBe(DATASOURCE.uid);
      expect(targetsOf(p).length, p.title).toBeGreaterThan(0);
      for (const t of targetsOf(p)) {
        expect(t.datasource.uid).toBe(DATASOURCE.uid);
        // Every metric selector carries the variables' filter.
        const selectors = t.expr.match(/\b[a-z_]+\{[^}]*\}/g) ?? [];
        expect(selectors.length, t.expr).toBeGreaterThan(0);
        for (const s of selectors)
          expect(s, `${p.title}: ${t.expr}`).toContain('namespace=~"$namespace", pod=~"$pod"');
        // Ranges follow the scrape interval, as Grafana advises for rate().
        for (const range of t.expr.match(/\[[^\]]+\]/g) ?? [])
          expect(range, t.expr).toBe('[$__rate_interval]');
      }
    }
  });

  it('reads only metrics a component documents', () => {
    const known = documented();
    for (const p of panels)
      for (const t of targetsOf(p))
        for (const m of metricsIn(t.expr)) expect(known, `${p.title}: ${m}`).toContain(m);
  });
});

describe('alerting rules', () => {
  it('read only metrics a component documents', () => {
    const known = documented();
    for (const { alert, expr } of alertExprs())
      for (const m of metricsIn(expr)) expect(known, `${alert}: ${m}`).toContain(m);
  });

  it('each has a promtool test case', () => {
    const tests = readFileSync(join(rulesFile, '../multipod.rules.test.yml'), 'utf8');
    for (const { alert } of alertExprs()) expect(tests, alert).toContain(`alertname: ${alert}\n`);
  });

  it('finds metric names in PromQL', () => {
    expect(
      metricsIn(
        'histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket{a="b"}[5m])))',
      ),
    ).toEqual(['http_request_duration_seconds']);
    expect(metricsIn('ambassador_upstream_up == 0 unless on (pod) log_adapter_files')).toEqual([
      'ambassador_upstream_up',
      'log_adapter_files',
    ]);
  });
});
