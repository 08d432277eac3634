// Small builders for the Grafana dashboards: a Prometheus panel is a title, a unit and its
// queries; rows of panels are laid out on Grafana's 24-column grid. Typed with @grafana/schema, so
// `pnpm typecheck` checks every dashboard against Grafana's own Dashboard model.
import type { Dashboard, Panel, RowPanel, VariableModel } from '@grafana/schema';

/**
 * Every panel and variable reads the data source the user picks in the dashboard's first variable
 * (Grafana's `${datasource}`, written here as a template literal's escaped text).
 */
export const DATASOURCE = { type: 'prometheus', uid: `\${datasource}` } as const;

/** The label filter every query carries: the dashboard's namespace and pod variables. */
export const SELECTOR = 'namespace=~"$namespace", pod=~"$pod"';

export interface Query {
  /** PromQL; `$__rate_interval` and the variables are Grafana's. */
  expr: string;
  /** The series' name in the legend, e.g. `{{code}}`. */
  legend: string;
}

export interface PanelSpec {
  title: string;
  description: string;
  /** Grafana's unit id: reqps, percentunit, s, Bps, bytes, short… */
  unit: string;
  queries: Query[];
  /** `stat` for a single number; time series otherwise. */
  type?: 'timeseries' | 'stat';
  /** Upper bound of the axis (1 for ratios). */
  max?: number;
}

/** A Prometheus target as Grafana stores it (the schema leaves targets open: this is their shape). */
export type PromTarget = {
  refId: string;
  datasource: typeof DATASOURCE;
  expr: string;
  legendFormat: string;
  range: true;
};

function panel(spec: PanelSpec, id: number, gridPos: NonNullable<Panel['gridPos']>): Panel {
  const targets: PromTarget[] = spec.queries.map((q, i) => ({
    refId: String.fromCharCode(65 + i),
    datasource: DATASOURCE,
    expr: q.expr,
    legendFormat: q.legend,
    range: true,
  }));
  return {
    id,
    type: spec.type ?? 'timeseries',
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE,
    gridPos,
    fieldConfig: {
      defaults: { unit: spec.unit, min: 0, ...(spec.max !== undefined ? { max: spec.max } : {}) },
      overrides: [],
    },
    options:
      spec.type === 'stat'
        ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value' }
        : { legend: { displayMode: 'table', placement: 'right', calcs: ['mean', 'max'], showLegend: true } },
    targets,
  };
}

/** Rows of panels: each row a titled band, its panels side by side, 8 units high. */
export function layout(rows: { title: string; panels: PanelSpec[] }[]): Array<Panel | RowPanel> {
  const out: Array<Panel | RowPanel> = [];
  let id = 1;
  let y = 0;
  for (const row of rows) {
    out.push({
      id: id++,
      type: 'row',
      title: row.title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    const w = Math.floor(24 / row.panels.length);
    row.panels.forEach((spec, i) => {
      out.push(panel(spec, id++, { h: 8, w, x: i * w, y }));
    });
    y += 8;
  }
  return out;
}

/** The data source, namespace and pod variables, the last two listed from `metric`'s labels. */
export function variables(metric: string): VariableModel[] {
  const query = (label: string, match: string): VariableModel => ({
    name: label,
    label,
    type: 'query',
    datasource: DATASOURCE,
    query: { query: `label_values(${match}, ${label})`, refId: `${label}-values` },
    refresh: 2, // on time range change: pods come and go
    includeAll: true,
    allValue: '.*',
    multi: true,
    sort: 1,
    current: { text: 'All', value: '$__all' },
  });
  return [
    { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus' },
    query('namespace', metric),
    query('pod', `${metric}{namespace=~"$namespace"}`),
  ];
}

/** The parts every multipod dashboard shares. */
export function dashboard(d: {
  uid: string;
  title: string;
  description: string;
  metric: string;
  rows: { title: string; panels: PanelSpec[] }[];
}): Dashboard {
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: ['multipod'],
    editable: true,
    graphTooltip: 1, // shared crosshair
    schemaVersion: 39,
    time: { from: 'now-1h', to: 'now' },
    refresh: '30s',
    templating: { list: variables(d.metric) },
    panels: layout(d.rows),
  };
}
