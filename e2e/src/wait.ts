// Polling with a deadline (never fixed sleeps), HTTP with timeouts, and Prometheus text parsing.
import { setTimeout as sleep } from 'node:timers/promises';

/** Calls fn until it returns without throwing; rethrows its last error after timeoutMs. */
export async function eventually<T>(
  fn: () => Promise<T> | T,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const msg = last instanceof Error ? last.message : String(last);
      throw new Error(`${opts.what ?? 'condition'} not met within ${opts.timeoutMs ?? 30_000} ms: ${msg}`);
    }
    await sleep(opts.intervalMs ?? 250);
  }
}

export interface Fetched {
  status: number;
  body: string;
  headers: Headers;
}

export async function get(url: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Fetched> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 5_000) });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** GET that must answer 200; the error names the URL, status and body. */
export async function get200(url: string): Promise<string> {
  const r = await get(url);
  if (r.status !== 200) throw new Error(`GET ${url} -> ${r.status}: ${r.body.slice(0, 200)}`);
  return r.body;
}

/** Samples of one metric from Prometheus text exposition, keyed by the label set as written. */
export function metricSamples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}

/** The value of `name{labels}` where every given label matches (summed over the others); 0 if absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [set, value] of metricSamples(text, name)) {
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) sum += value;
  }
  return sum;
}

/**
 * A log-adapter's /metrics once it has caught up with its input: the same log_adapter_lines_total
 * over a full second, checked for up to 30 s.
 */
export async function adapterSettled(url: string): Promise<string> {
  let last = await get200(url);
  for (let i = 0; i < 30; i++) {
    await sleep(1_000);
    const now = await get200(url);
    if (metricValue(now, 'log_adapter_lines_total') === metricValue(last, 'log_adapter_lines_total'))
      return now;
    last = now;
  }
  throw new Error(`the adapter at ${url} never caught up (lines still counted after 30 s)`);
}
