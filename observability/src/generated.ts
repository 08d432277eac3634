// The files made from this package's sources, by path: each dashboard as the JSON Grafana imports,
// and the alerting rules as the PrometheusRule the Prometheus Operator reads (in the pod-monitor
// component). `node observability/src/write.ts` writes them; generated.test.ts fails while one
// on disk differs.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Dashboard } from '@grafana/schema';
import { parse, stringify } from 'yaml';
import ambassador from '../dashboards/ambassador.ts';
import logAdapter from '../dashboards/log-adapter.ts';

export const packageDir = resolve(import.meta.dirname, '..');
export const repoRoot = resolve(packageDir, '..');
export const rulesFile = join(packageDir, 'alerts/multipod.rules.yml');
export const prometheusRuleFile = join(repoRoot, 'manifests/components/pod-monitor/prometheus-rule.yaml');

export const dashboards: Record<string, Dashboard> = {
  'log-adapter': logAdapter,
  ambassador,
};

export function dashboardJson(d: Dashboard): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}

/** The rules file's groups, wrapped as a monitoring.coreos.com/v1 PrometheusRule. */
export function prometheusRule(): string {
  const rules = parse(readFileSync(rulesFile, 'utf8')) as { groups: unknown[] };
  const header = [
    '# The alerting rules of observability/alerts/multipod.rules.yml as a PrometheusRule, for a',
    '# Prometheus run by the Prometheus Operator (its ruleSelector may want a label: add it with a',
    '# patch of your own). Written by `node observability/src/write.ts`: edit the rules file, not this.',
  ].join('\n');
  const doc = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'multipod', labels: { 'app.kubernetes.io/part-of': 'multipod' } },
    spec: { groups: rules.groups },
  };
  return `${header}\n${stringify(doc, { lineWidth: 0 })}`;
}

export function generatedFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [name, d] of Object.entries(dashboards))
    files.set(join(packageDir, 'dashboards', `${name}.json`), dashboardJson(d));
  files.set(prometheusRuleFile, prometheusRule());
  return files;
}
