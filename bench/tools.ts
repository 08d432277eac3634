// Helpers for the benchmarks: start and stop processes pinned to a core, read their CPU time from
// /proc, run wrk and h2load and parse what they print. Node builtins only.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim() || 100);

export function have(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A free loopback port (bind, read, close: fine for a benchmark). */
export { freePort } from '../packages/service/src/testing.ts';

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const started: ChildProcess[] = [];

/**
 * The cores processes are pinned to: servers on core 0, the load generator and the origin on core
 * 1, so CPU per request is each server's own, not a share of a contended core. Undefined when the
 * machine has one core or no taskset (then nothing is pinned, and the bench says so).
 */
export const PINNING: { server: string; load: string } | undefined =
  availableParallelism() >= 2 && have('taskset') ? { server: '0', load: '1' } : undefined;

/** cmd + args, run on the given core when pinning is possible. */
export function onCore(core: 'server' | 'load', cmd: string, args: string[]): [string, string[]] {
  return PINNING ? ['taskset', ['-c', PINNING[core], cmd, ...args]] : [cmd, args];
}

export function startProcess(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  core?: 'server' | 'load',
): ChildProcess {
  if (core) [cmd, args] = onCore(core, cmd, args);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  child.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal === null && code !== null)
      process.stderr.write(`${cmd} exited ${code}: ${err}\n`);
  });
  started.push(child);
  return child;
}

export async function stopAll(): Promise<void> {
  await Promise.all(
    started.splice(0).map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 5000).unref();
        }),
    ),
  );
}

/** The process and all its descendants (nginx master + worker). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]!) ?? []));
  return out;
}

/** User + system CPU time of the processes, in milliseconds. */
export function cpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
    } catch {
      // gone
    }
  }
  return ticks * TICK_MS;
}

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  transferBytesPerSec: number;
  errors: number;
  non2xx: number;
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

function toBytes(v: string): number {
  const m = /^([\d.]+)([KMG]?B)$/.exec(v.trim());
  if (!m) return Number.NaN;
  return Number(m[1]) * ({ B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 } as Record<string, number>)[m[2]!]!;
}

export function parseWrk(out: string): WrkResult {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? 'NaN');
  const requests = num(/(\d+) requests in/);
  const seconds = toMs(/requests in ([\d.]+\w+),/.exec(out)?.[1] ?? '') / 1000;
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests,
    seconds,
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: toMs(/\s50%\s+([\d.]+\w+)/.exec(out)?.[1] ?? ''),
    p99Ms: toMs(/\s99%\s+([\d.]+\w+)/.exec(out)?.[1] ?? ''),
    transferBytesPerSec: toBytes(/Transfer\/sec:\s+([\d.]+\w+)/.exec(out)?.[1] ?? ''),
    errors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
  };
}

/** Runs a load generator on the load core: its output, and the CPU ms the given processes used meanwhile. */
async function loadRun(
  tool: string,
  args: string[],
  pids: number[],
  env: Record<string, string> = {},
): Promise<{ out: string; used: number }> {
  const [cmd, cmdArgs] = onCore('load', tool, args);
  const before = cpuMs(pids);
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(cmd, cmdArgs, { env: { ...process.env, ...env } });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.stderr.on('data', (d) => (text += d));
    child.on('error', reject);
    child.on('exit', () => resolve(text));
  });
  return { out, used: cpuMs(pids) - before };
}

/** Runs wrk and returns its parsed result plus the CPU time the given processes used meanwhile. */
export async function wrk(
  url: string,
  opts: {
    seconds: number;
    connections: number;
    script?: string;
    env?: Record<string, string>;
    headers?: string[];
  },
  pids: number[],
): Promise<WrkResult & { cpuMs: number; cpuUsPerRequest: number }> {
  const args = ['-t1', `-c${opts.connections}`, `-d${opts.seconds}s`, '--latency', '--timeout', '5s'];
  for (const h of opts.headers ?? []) args.push('-H', h);
  if (opts.script) args.push('-s', opts.script);
  args.push(url);
  const { out, used } = await loadRun('wrk', args, pids, opts.env);
  const r = parseWrk(out);
  if (!Number.isFinite(r.requests)) throw new Error(`could not read wrk's output:\n${out}`);
  return { ...r, cpuMs: used, cpuUsPerRequest: r.requests > 0 ? (used * 1000) / r.requests : Number.NaN };
}

export interface H2loadResult {
  requests: number;
  succeeded: number;
  failed: number;
  rps: number;
  cpuMs: number;
  cpuUsPerRequest: number;
}

/** Runs h2load (HTTP/2, prior knowledge) for a duration and charges the given processes' CPU. */
export async function h2load(
  url: string,
  opts: { seconds: number; clients: number; streams: number; data?: string; headers?: string[] },
  pids: number[],
): Promise<H2loadResult> {
  const args = ['-D', String(opts.seconds), '-c', String(opts.clients), '-m', String(opts.streams)];
  if (opts.data) args.push('-d', opts.data);
  for (const h of opts.headers ?? []) args.push('-H', h);
  args.push(url);
  const { out, used } = await loadRun('h2load', args, pids);
  const m = /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(out);
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1] ?? 'NaN');
  if (!m) throw new Error(`could not read h2load's output:\n${out}`);
  const succeeded = Number(m[2]);
  return {
    requests: Number(m[1]),
    succeeded,
    failed: Number(m[3]),
    rps,
    cpuMs: used,
    cpuUsPerRequest: succeeded > 0 ? (used * 1000) / succeeded : Number.NaN,
  };
}
