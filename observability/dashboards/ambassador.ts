// The ambassador's dashboard, per upstream: request rate, errors, latency, health (up, ejections,
// panic routing), retries and requests in flight. Written to ambassador.json by
// `node observability/src/write.ts`; import that file in Grafana.
import type { Dashboard } from '@grafana/schema';
import { dashboard, SELECTOR } from '../src/grafana.ts';

const rate = (metric: string, filter = '') =>
  `rate(${metric}{${SELECTOR}${filter ? `, ${filter}` : ''}}[$__rate_interval])`;

export default dashboard({
  uid: 'multipod-ambassador',
  title: 'multipod / ambassador: upstreams',
  description:
    'The multipod ambassador in front of an app (inbound) or in front of remote services (outbound): what each upstream gets and how healthy it is.',
  metric: 'ambassador_requests_total',
  rows: [
    {
      title: 'Traffic per upstream',
      panels: [
        {
          title: 'Requests per second, by upstream',
          description:
            'upstream="none": answered by the ambassador itself (no route, no healthy upstream, refused).',
          unit: 'reqps',
          queries: [
            { expr: `sum by (upstream) (${rate('ambassador_requests_total')})`, legend: '{{upstream}}' },
          ],
        },
        {
          title: 'Error ratio (5xx), by upstream',
          description:
            "The upstream's own 5xx and the ambassador's 502/503/504 for it. 0 when there are none.",
          unit: 'percentunit',
          max: 1,
          queries: [
            {
              expr: `(sum by (upstream) (${rate('ambassador_requests_total', 'code=~"5.."')}) or 0 * sum by (upstream) (${rate('ambassador_requests_total')})) / sum by (upstream) (${rate('ambassador_requests_total')})`,
              legend: '{{upstream}}',
            },
          ],
        },
        {
          title: 'Latency p99, by upstream',
          description: 'From ambassador_request_duration_seconds: request to the end of the response.',
          unit: 's',
          queries: [
            {
              expr: `histogram_quantile(0.99, sum by (upstream, le) (${rate('ambassador_request_duration_seconds_bucket')}))`,
              legend: '{{upstream}}',
            },
          ],
        },
      ],
    },
    {
      title: 'Health',
      panels: [
        {
          title: 'Healthy upstreams, by pool',
          description:
            'Upstreams passing their checks and not ejected, of all (a headless Service: one per ready pod). 0 healthy: 503s.',
          unit: 'short',
          queries: [
            { expr: `sum by (pool) (ambassador_upstream_up{${SELECTOR}})`, legend: '{{pool}} healthy' },
            { expr: `count by (pool) (ambassador_upstream_up{${SELECTOR}})`, legend: '{{pool}} all' },
          ],
        },
        {
          title: 'Ejections, by upstream',
          description:
            'Upstreams taken out after consecutive failures (AMBASSADOR_EJECT_AFTER), per interval. Present once one has happened.',
          unit: 'short',
          queries: [
            {
              expr: `sum by (upstream) (increase(ambassador_ejections_total{${SELECTOR}}[$__rate_interval]))`,
              legend: '{{upstream}}',
            },
          ],
        },
        {
          title: 'Retries per second, by pool',
          description: 'Requests sent again to another upstream after a failure before any response byte.',
          unit: 'reqps',
          queries: [{ expr: `sum by (pool) (${rate('ambassador_retries_total')})`, legend: '{{pool}}' }],
        },
      ],
    },
    {
      title: 'Load',
      panels: [
        {
          title: 'Requests in flight, by upstream',
          description:
            'Requests (TCP: connections) under way to each upstream now; least-requests balancing reads the same.',
          unit: 'short',
          queries: [
            {
              expr: `sum by (upstream) (ambassador_upstream_in_flight{${SELECTOR}})`,
              legend: '{{upstream}}',
            },
          ],
        },
        {
          title: 'Client connections, by listener',
          description: 'Connections from clients open now.',
          unit: 'short',
          queries: [
            {
              expr: `sum by (listener) (ambassador_active_connections{${SELECTOR}})`,
              legend: '{{listener}}',
            },
          ],
        },
        {
          title: 'Refused before any upstream, by reason',
          description: 'bad_request, open_proxy, no_route, no_upstream: answered by the ambassador itself.',
          unit: 'reqps',
          queries: [
            { expr: `sum by (reason) (${rate('ambassador_rejected_requests_total')})`, legend: '{{reason}}' },
          ],
        },
      ],
    },
  ],
}) satisfies Dashboard;
