// The log-adapter's dashboard: the app's traffic as its access log tells it (rate, errors,
// latency quantiles from the histogram, bytes), then the adapter's own health. Written to
// log-adapter.json by `node observability/src/write.ts`; import that file in Grafana.
import type { Dashboard } from '@grafana/schema';
import { dashboard, SELECTOR } from '../src/grafana.ts';

const rate = (metric: string, filter = '') =>
  `rate(${metric}{${SELECTOR}${filter ? `, ${filter}` : ''}}[$__rate_interval])`;

const quantile = (q: number) => ({
  expr: `histogram_quantile(${q}, sum by (le) (${rate('http_request_duration_seconds_bucket')}))`,
  legend: `p${q * 100}`,
});

export default dashboard({
  uid: 'multipod-log-adapter',
  title: 'multipod / log-adapter: traffic from the access log',
  description:
    "Requests as the app's access log records them, turned into metrics by the multipod log-adapter beside it; then the adapter's own reading of the log.",
  metric: 'http_requests_total',
  rows: [
    {
      title: 'Traffic',
      panels: [
        {
          title: 'Requests per second, by status',
          description: 'Every line of the access log is one request (probes are not logged by web).',
          unit: 'reqps',
          queries: [{ expr: `sum by (code) (${rate('http_requests_total')})`, legend: '{{code}}' }],
        },
        {
          title: 'Error ratio (5xx)',
          description: 'Share of requests answered 5xx. 0 when there are none.',
          unit: 'percentunit',
          max: 1,
          queries: [
            {
              expr: `(sum(${rate('http_requests_total', 'code=~"5.."')}) or vector(0)) / sum(${rate('http_requests_total')})`,
              legend: '5xx',
            },
          ],
        },
      ],
    },
    {
      title: 'Latency and size',
      panels: [
        {
          title: 'Latency quantiles',
          description:
            'From http_request_duration_seconds (the request time in the log line); estimates within a bucket (ADAPTER_BUCKETS).',
          unit: 's',
          queries: [quantile(0.5), quantile(0.9), quantile(0.99)],
        },
        {
          title: 'Bytes sent per second, by method',
          description: 'Response body bytes, as the log says ($body_bytes_sent).',
          unit: 'Bps',
          queries: [
            { expr: `sum by (method) (${rate('http_response_size_bytes_total')})`, legend: '{{method}}' },
          ],
        },
      ],
    },
    {
      title: 'The adapter',
      panels: [
        {
          title: 'Log lines per second, by result',
          description:
            'parsed lines become requests; unparsed and too_long are skipped and counted (a format that does not match shows here).',
          unit: 'short',
          queries: [{ expr: `sum by (result) (${rate('log_adapter_lines_total')})`, legend: '{{result}}' }],
        },
        {
          title: 'Lag behind the log',
          description:
            'Bytes written to the log files and not read yet: growing means the adapter falls behind.',
          unit: 'bytes',
          queries: [{ expr: `max by (pod) (log_adapter_lag_bytes{${SELECTOR}})`, legend: '{{pod}}' }],
        },
        {
          title: 'Files read',
          description:
            'Log files the adapter has open. 0 with a file input: the log is missing (see /readyz).',
          unit: 'short',
          queries: [{ expr: `sum by (pod) (log_adapter_files{${SELECTOR}})`, legend: '{{pod}}' }],
        },
      ],
    },
  ],
}) satisfies Dashboard;
