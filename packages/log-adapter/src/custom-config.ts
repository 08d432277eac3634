// ADAPTER_CONFIG: a YAML file adding metrics computed from fields of each line, with route
// templates, filters and constant labels. Validated once at start; an error names the field.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { JsonMapping } from './formats/json.ts';
import { compilePattern, PatternError } from './pattern.ts';
import { compileTemplate } from './routes.ts';

export interface CustomMetric {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  /** Label name → field name ("route" is the templated path). */
  labels: Record<string, string>;
  /** Field whose number is added (counter), observed (histogram) or set (gauge); counters default to 1. */
  value: string | undefined;
  /** Field → regular expression (RE2, see pattern.ts); a line counts only when every one matches. */
  filter: { field: string; re: { test(text: string): boolean } }[];
  constLabels: Record<string, string>;
  buckets: number[] | undefined;
}

export interface CustomConfig {
  metrics: CustomMetric[];
  routes: string[];
  json: JsonMapping;
}

export const EMPTY_CONFIG: CustomConfig = {
  metrics: [],
  routes: [],
  json: { fields: {}, durationUnit: 's' },
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RAW_PATH_FIELDS = new Set(['path', 'request', 'request_uri', 'uri']);
const RESERVED = new Set([
  'http_requests_total',
  'http_response_size_bytes_total',
  'http_request_duration_seconds',
]);

/** Reads and validates the file. `fields` are the names the format gives (null: any, for json). */
export function loadCustomConfig(path: string, fields: readonly string[] | null): CustomConfig {
  return parseCustomConfigText(readConfigFile(path), path, fields);
}

export function readConfigFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

/** Validates the text of the file at `path` (named in errors). */
export function parseCustomConfigText(
  text: string,
  path: string,
  fields: readonly string[] | null,
): CustomConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    return parseCustomConfig(doc ?? {}, fields);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${path}: ${err.message}`);
    throw err;
  }
}

export function parseCustomConfig(doc: unknown, fields: readonly string[] | null): CustomConfig {
  const top = record(doc, '(top level)');
  allowOnly(top, ['metrics', 'routes', 'json'], '');
  const routes = list(top.routes ?? [], 'routes').map((r, i) => {
    const t = str(r, `routes[${i}]`);
    try {
      compileTemplate(t);
    } catch (err) {
      throw new ConfigError(`routes[${i}]: ${(err as Error).message}`);
    }
    return t;
  });
  const json: JsonMapping = { fields: {}, durationUnit: 's' };
  if (top.json !== undefined) {
    const j = record(top.json, 'json');
    allowOnly(j, ['fields', 'duration_unit'], 'json.');
    for (const [k, v] of Object.entries(record(j.fields ?? {}, 'json.fields')))
      json.fields[k] = str(v, `json.fields.${k}`);
    if (j.duration_unit !== undefined) {
      if (j.duration_unit !== 's' && j.duration_unit !== 'ms')
        throw new ConfigError(`json.duration_unit: ${JSON.stringify(j.duration_unit)} is not s or ms`);
      json.durationUnit = j.duration_unit;
    }
  }
  const known = fields === null ? null : new Set([...fields, 'route', 'method', 'status', 'code']);
  const checkField = (f: unknown, where: string): string => {
    const name = str(f, where);
    if (known && !known.has(name))
      throw new ConfigError(
        `${where}: unknown field "${name}"; this format has ${[...known].sort().join(', ')}`,
      );
    return name;
  };
  const names = new Set<string>();
  const metrics = list(top.metrics ?? [], 'metrics').map((m, i): CustomMetric => {
    const at = `metrics[${i}]`;
    const o = record(m, at);
    allowOnly(o, ['name', 'type', 'help', 'labels', 'value', 'filter', 'const_labels', 'buckets'], `${at}.`);
    const name = str(o.name, `${at}.name`);
    if (!METRIC_NAME.test(name))
      throw new ConfigError(`${at}.name: "${name}" is not a Prometheus metric name`);
    if (RESERVED.has(name) || name.startsWith('log_adapter_') || names.has(name))
      throw new ConfigError(`${at}.name: "${name}" is already taken`);
    names.add(name);
    const type = o.type ?? 'counter';
    if (type !== 'counter' && type !== 'gauge' && type !== 'histogram')
      throw new ConfigError(`${at}.type: ${JSON.stringify(type)} is not counter, gauge or histogram`);
    const help = o.help === undefined ? `${name} from the access log.` : str(o.help, `${at}.help`);
    const labels: Record<string, string> = {};
    for (const [label, field] of Object.entries(record(o.labels ?? {}, `${at}.labels`))) {
      const where = `${at}.labels.${label}`;
      checkLabel(label, where, type);
      const f = checkField(field, where);
      if (RAW_PATH_FIELDS.has(f))
        throw new ConfigError(
          `${where}: raw "${f}" labels are refused (every distinct path would be a series); use the field "route" with routes: templates`,
        );
      if (f === 'route' && routes.length === 0)
        throw new ConfigError(`${where}: the field "route" needs routes: templates at the top level`);
      labels[label] = f;
    }
    const value = o.value === undefined ? undefined : checkField(o.value, `${at}.value`);
    if (value === undefined && type !== 'counter')
      throw new ConfigError(`${at}.value: a ${type} needs a value field`);
    const filter = Object.entries(record(o.filter ?? {}, `${at}.filter`)).map(([field, pattern]) => {
      const where = `${at}.filter.${field}`;
      checkField(field, where);
      const source = str(pattern, where);
      try {
        return { field, re: compilePattern(source) };
      } catch (err) {
        if (err instanceof PatternError) throw new ConfigError(`${where}: ${err.message}`);
        throw err;
      }
    });
    const constLabels: Record<string, string> = {};
    for (const [label, v] of Object.entries(record(o.const_labels ?? {}, `${at}.const_labels`))) {
      const where = `${at}.const_labels.${label}`;
      checkLabel(label, where, type);
      if (label in labels) throw new ConfigError(`${where}: also a label from a field`);
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
        throw new ConfigError(`${where}: give a string`);
      constLabels[label] = String(v);
    }
    let buckets: number[] | undefined;
    if (o.buckets !== undefined) {
      if (type !== 'histogram') throw new ConfigError(`${at}.buckets: only a histogram has buckets`);
      buckets = parseBuckets(o.buckets, `${at}.buckets`);
    }
    return { name, type, help, labels, value, filter, constLabels, buckets };
  });
  return { metrics, routes, json };
}

/** Bucket upper bounds: a non-empty list of increasing finite numbers. */
export function parseBuckets(v: unknown, where: string): number[] {
  const items = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : list(v, where);
  if (items.length === 0) throw new ConfigError(`${where}: give at least one bucket`);
  const out = items.map((x, i) => {
    const n = typeof x === 'number' ? x : typeof x === 'string' && x !== '' ? Number(x) : Number.NaN;
    if (!Number.isFinite(n)) throw new ConfigError(`${where}[${i}]: ${JSON.stringify(x)} is not a number`);
    return n;
  });
  for (let i = 1; i < out.length; i++)
    if (out[i]! <= out[i - 1]!)
      throw new ConfigError(`${where}: bounds must increase (${out[i - 1]} then ${out[i]})`);
  return out;
}

function checkLabel(label: string, where: string, type: string): void {
  if (!LABEL_NAME.test(label) || label.startsWith('__'))
    throw new ConfigError(`${where}: "${label}" is not a Prometheus label name`);
  if (type === 'histogram' && label === 'le')
    throw new ConfigError(`${where}: "le" is reserved for histogram buckets`);
}

function record(v: unknown, where: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new ConfigError(`${where}: give a mapping`);
  return v as Record<string, unknown>;
}

function list(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) throw new ConfigError(`${where}: give a list`);
  return v;
}

function str(v: unknown, where: string): string {
  if (typeof v !== 'string' || v === '') throw new ConfigError(`${where}: give a non-empty string`);
  return v;
}

function allowOnly(o: Record<string, unknown>, keys: string[], prefix: string): void {
  for (const k of Object.keys(o))
    if (!keys.includes(k)) throw new ConfigError(`${prefix}${k}: unknown key; allowed: ${keys.join(', ')}`);
}
