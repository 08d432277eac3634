import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseCustomConfig } from './custom-config.ts';

const fields = ['method', 'path', 'status', 'request_time', 'http_user_agent', 'body_bytes_sent'];
const check = (yaml: string) => () => parseCustomConfig(parse(yaml), fields);

describe('ADAPTER_CONFIG validation names the field', () => {
  it.each([
    ['metrics: {}', 'metrics: give a list'],
    ['metrics: [{ type: counter }]', 'metrics[0].name: give a non-empty string'],
    ['metrics: [{ name: "bad-name" }]', 'metrics[0].name: "bad-name" is not a Prometheus metric name'],
    ['metrics: [{ name: http_requests_total }]', 'metrics[0].name: "http_requests_total" is already taken'],
    [
      'metrics: [{ name: a, type: summary }]',
      'metrics[0].type: "summary" is not counter, gauge or histogram',
    ],
    [
      'metrics: [{ name: a, labels: { ua: user_agent } }]',
      'metrics[0].labels.ua: unknown field "user_agent"',
    ],
    ['metrics: [{ name: a, labels: { p: path } }]', 'metrics[0].labels.p: raw "path" labels are refused'],
    ['metrics: [{ name: a, labels: { r: route } }]', 'metrics[0].labels.r: the field "route" needs routes:'],
    ['metrics: [{ name: a, type: histogram }]', 'metrics[0].value: a histogram needs a value field'],
    [
      'metrics: [{ name: a, type: histogram, value: request_time, labels: { le: status } }]',
      'metrics[0].labels.le: "le" is reserved',
    ],
    [
      'metrics: [{ name: a, filter: { status: "(" } }]',
      'metrics[0].filter.status: not a valid regular expression: missing closing ): `(`',
    ],
    [
      'metrics: [{ name: a, filter: { status: "^(?!2)" } }]',
      'metrics[0].filter.status: not a valid regular expression: invalid or unsupported Perl syntax: `(?!`; patterns use RE2 syntax (linear-time matching): no backreferences',
    ],
    ['metrics: [{ name: a, buckets: [1] }]', 'metrics[0].buckets: only a histogram has buckets'],
    [
      'metrics: [{ name: a, type: histogram, value: request_time, buckets: [1, "x"] }]',
      'metrics[0].buckets[1]: "x" is not a number',
    ],
    ['metrics: [{ name: a, colour: red }]', 'metrics[0].colour: unknown key'],
    ['routes: [users/:id]', 'routes[0]: "users/:id" is not a path template'],
    ['json: { duration_unit: us }', 'json.duration_unit: "us" is not s or ms'],
  ])('%s', (yaml, message) => {
    expect(check(yaml)).toThrow(message);
  });

  it('accepts a full example', () => {
    const c = parseCustomConfig(
      parse(`
routes: [/users/:id]
metrics:
  - name: by_route_total
    labels: { route: route, code: status }
    filter: { method: "^(GET|HEAD)$" }
    const_labels: { tier: edge }
  - name: latency_seconds
    type: histogram
    value: request_time
    buckets: [0.1, 1]
`),
      fields,
    );
    expect(c.metrics.map((m) => [m.name, m.type, Object.keys(m.labels)])).toEqual([
      ['by_route_total', 'counter', ['route', 'code']],
      ['latency_seconds', 'histogram', []],
    ]);
  });
});
