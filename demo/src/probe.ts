// Gathers what the pod view shows, the way an operator would look at a pod: each container's
// /readyz, its /metrics, and the shared content volume (which snapshot `current` points to).
import { readdir, readFile, readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { firstOf, histogramQuantile, parseMetrics, type Sample, select, sum, sumBy } from './metrics.ts';
import type { PodPlan } from './pod.ts';
import type { ContainerStatus, Supervisor } from './supervisor.ts';

export interface ContainerView extends ContainerStatus {
  readonly role: string;
  readonly ports: readonly { port: number; what: string }[];
  readonly ready: boolean;
  /** /readyz body (the reason when not ready) or the connection error. */
  readonly readyDetail: string;
  readonly readyz: string;
  readonly metricsUrl: string | undefined;
}

export interface PodState {
  readonly pattern: string;
  readonly now: number;
  /** The runner's own pid (the containers' are under containers[]). */
  readonly runnerPid: number;
  readonly siteUrl: string;
  readonly source: string;
  readonly volumes: readonly { name: string; path: string; mountedBy: readonly string[] }[];
  readonly containers: readonly ContainerView[];
  readonly sync?: {
    readonly snapshot: string | undefined;
    readonly files: number | undefined;
    /** The <h1> of current/index.html, read from the volume (no request, so no access-log line). */
    readonly headline: string | undefined;
    readonly lastSyncAt: number | undefined;
    readonly syncs: number | undefined;
    readonly failures: number | undefined;
  };
  readonly ambassador?: {
    readonly upstreams: readonly { name: string; up: boolean }[];
    readonly requests: number | undefined;
    readonly byCode: Readonly<Record<string, number>>;
  };
  readonly adapter?: {
    readonly requests: number | undefined;
    readonly byCode: Readonly<Record<string, number>>;
    readonly bytes: number | undefined;
    readonly latency: { avg?: number; p50?: number; p95?: number };
    readonly lines: Readonly<Record<string, number>>;
  };
}

const TIMEOUT_MS = 800;

async function get(url: string): Promise<{ status: number; body: string } | { error: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    return { error: cause?.code === 'ECONNREFUSED' ? 'connection refused' : (err as Error).message };
  }
}

async function metricsOf(url: string | undefined): Promise<Sample[] | undefined> {
  if (!url) return undefined;
  const r = await get(url);
  return 'status' in r && r.status === 200 ? parseMetrics(r.body) : undefined;
}

/** Which snapshot `current` points to, and how many files it holds. */
export async function currentSnapshot(
  contentDir: string,
): Promise<{ id?: string; files?: number; headline?: string }> {
  try {
    const target = await readlink(join(contentDir, 'current'));
    const id = basename(target);
    const entries = await readdir(join(contentDir, 'current'), { recursive: true, withFileTypes: true });
    const index = await readFile(join(contentDir, 'current', 'index.html'), 'utf8').catch(() => '');
    const h1 = /<h1[^>]*>([\s\S]*?)<\/h1>/i
      .exec(index)?.[1]
      ?.replace(/<[^>]+>/g, '')
      .trim();
    return { id, files: entries.filter((e) => e.isFile()).length, ...(h1 ? { headline: h1 } : {}) };
  } catch {
    return {};
  }
}

export async function collectState(plan: PodPlan, supervisor: Supervisor): Promise<PodState> {
  const has = (name: string) => plan.containers.some((c) => c.name === name);
  const metricsUrl = (name: string) => plan.containers.find((c) => c.name === name)?.metrics;
  const [readies, syncM, ambM, adaM, snap] = await Promise.all([
    Promise.all(plan.containers.map((c) => get(c.readyz))),
    has('content-sync') ? metricsOf(metricsUrl('content-sync')) : undefined,
    has('ambassador') ? metricsOf(metricsUrl('ambassador')) : undefined,
    has('log-adapter') ? metricsOf(metricsUrl('log-adapter')) : undefined,
    has('content-sync') ? currentSnapshot(plan.contentDir) : undefined,
  ]);
  const containers = plan.containers.map((c, i): ContainerView => {
    const r = readies[i]!;
    const status = supervisor.get(c.name)!.status();
    return {
      ...status,
      role: c.role,
      ports: c.ports,
      ready: 'status' in r && r.status === 200 && status.state === 'running',
      readyDetail: 'status' in r ? `${r.status} ${r.body.trim().slice(0, 200)}` : r.error,
      readyz: c.readyz,
      metricsUrl: c.metrics,
    };
  });
  const volumes = [];
  if (has('content-sync'))
    volumes.push({ name: 'content', path: plan.contentDir, mountedBy: ['content-sync', 'web'] });
  volumes.push({
    name: 'logs',
    path: plan.logDir,
    mountedBy: has('log-adapter') ? ['web', 'log-adapter'] : ['web'],
  });
  return {
    pattern: plan.pattern,
    now: Date.now(),
    runnerPid: process.pid,
    siteUrl: plan.siteUrl,
    source: plan.source,
    volumes,
    containers,
    ...(has('content-sync') ? { sync: syncView(syncM ?? [], snap ?? {}) } : {}),
    ...(has('ambassador') ? { ambassador: ambassadorView(ambM ?? []) } : {}),
    ...(has('log-adapter') ? { adapter: adapterView(adaM ?? []) } : {}),
  };
}

export function syncView(
  m: readonly Sample[],
  snap: { id?: string; files?: number; headline?: string },
): NonNullable<PodState['sync']> {
  const last = firstOf(m, ['content_sync_last_success_timestamp_seconds']);
  const runs = sumBy(m, 'content_sync_runs_total', 'result');
  return {
    snapshot: snap.id,
    headline: snap.headline,
    files: snap.files ?? firstOf(m, ['content_sync_snapshot_files']),
    lastSyncAt: last === undefined || last === 0 ? undefined : last * 1000,
    syncs: runs['published'],
    failures: runs['error'],
  };
}

export function ambassadorView(m: readonly Sample[]): NonNullable<PodState['ambassador']> {
  const upstreams = select(m, 'ambassador_upstream_up').map((s) => ({
    name:
      s.labels['upstream'] ?? s.labels['target'] ?? s.labels['address'] ?? Object.values(s.labels).join('/'),
    up: s.value === 1,
  }));
  return {
    upstreams,
    requests: firstOf(m, ['ambassador_requests_total', 'ambassador_http_requests_total']),
    byCode: {
      ...sumBy(m, 'ambassador_http_requests_total', 'code'),
      ...sumBy(m, 'ambassador_requests_total', 'code'),
    },
  };
}

export function adapterView(m: readonly Sample[]): NonNullable<PodState['adapter']> {
  const count = sum(m, 'http_request_duration_seconds_count');
  const total = sum(m, 'http_request_duration_seconds_sum');
  const latency: { avg?: number; p50?: number; p95?: number } = {};
  if (count && total !== undefined) latency.avg = total / count;
  const p50 = histogramQuantile(m, 'http_request_duration_seconds', 0.5);
  const p95 = histogramQuantile(m, 'http_request_duration_seconds', 0.95);
  if (p50 !== undefined) latency.p50 = p50;
  if (p95 !== undefined) latency.p95 = p95;
  return {
    requests: sum(m, 'http_requests_total'),
    byCode: sumBy(m, 'http_requests_total', 'code'),
    bytes: sum(m, 'http_response_size_bytes_total'),
    latency,
    lines: sumBy(m, 'log_adapter_lines_total', 'result'),
  };
}
