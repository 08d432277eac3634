// content-sync's metrics, on its own Registry (never prom-client's global one).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FailureReason } from './source-http.ts';

export type RunResult = 'published' | 'unchanged' | 'error';

export interface SyncMetrics {
  readonly registry: Registry;
  readonly runs: Counter<'result'>;
  readonly duration: Histogram<'result'>;
  readonly lastSuccess: Gauge;
  readonly files: Gauge;
  readonly bytes: Gauge;
  readonly info: Gauge<'snapshot' | 'commit'>;
  readonly errors: Counter<'reason'>;
  readonly webhook: Counter<'result'>;
  readonly watches: Gauge;
  /** Sets the info gauge to the one current snapshot (and its commit, for a git source). */
  setCurrent(id: string, files: number, bytes: number, commit?: string): void;
}

export function createMetrics(registry = new Registry()): SyncMetrics {
  const runs = new Counter({
    name: 'content_sync_runs_total',
    help: 'Syncs by result: published (a new snapshot went live), unchanged, error.',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  for (const r of ['published', 'unchanged', 'error']) runs.labels(r).inc(0);
  const duration = new Histogram({
    name: 'content_sync_run_duration_seconds',
    help: 'Time of one sync: scan (or download and check), build the snapshot, swap.',
    labelNames: ['result'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const lastSuccess = new Gauge({
    name: 'content_sync_last_success_timestamp_seconds',
    help: 'Unix time of the last sync that ended with the source published (or unchanged).',
    registers: [registry],
  });
  const files = new Gauge({
    name: 'content_sync_snapshot_files',
    help: 'Files in the current snapshot.',
    registers: [registry],
  });
  const bytes = new Gauge({
    name: 'content_sync_snapshot_bytes',
    help: 'Bytes of the files in the current snapshot.',
    registers: [registry],
  });
  const info = new Gauge({
    name: 'content_sync_snapshot_info',
    help: 'Always 1, labelled with the id of the current snapshot (TARGET/current -> .snapshots/<id>) and, for a git source, its commit.',
    labelNames: ['snapshot', 'commit'] as const,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'content_sync_errors_total',
    help: 'Failed syncs by reason: unreachable (network, timeout, 5xx), auth (401, 403), not_found (404, a ref or folder gone), refused (limits, unsafe or unsupported content), other.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const r of ['unreachable', 'auth', 'not_found', 'refused', 'other'] satisfies FailureReason[])
    errors.labels(r).inc(0);
  const webhook = new Counter({
    name: 'content_sync_webhook_calls_total',
    help: 'Webhook calls by result: success, retry (failed, will retry), failed (gave up).',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const watches = new Gauge({
    name: 'content_sync_watched_directories',
    help: 'Directories of the source watched for changes (one inotify watch each).',
    registers: [registry],
  });
  return {
    registry,
    runs,
    duration,
    lastSuccess,
    files,
    bytes,
    info,
    errors,
    webhook,
    watches,
    setCurrent(id, n, b, commit) {
      info.reset();
      info.labels(commit ? { snapshot: id, commit } : { snapshot: id }).set(1);
      files.set(n);
      bytes.set(b);
    },
  };
}
