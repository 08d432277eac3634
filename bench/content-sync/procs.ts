// Process measurements from /proc: RSS, peak RSS, inotify watches, CPU time; and process start/stop.

import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { MemoryLimit } from './memory-limit.ts';

export function rssKiB(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** inotify watches held by a process: one `inotify wd:` line per watch in /proc/<pid>/fdinfo. */
export function inotifyWatches(pid: number): number {
  let n = 0;
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return 0;
  }
  for (const fd of fds) {
    try {
      for (const line of readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').split('\n'))
        if (line.startsWith('inotify wd:')) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** CPU seconds (user + system) used so far by a process. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ=100)
  } catch {
    return 0;
  }
}

/** CPU seconds of a process's children that have exited and been waited for (cutime + cstime). */
export function childrenCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return 0;
  }
}

/** Direct children of a process (the shell sidecar's inotifywait and its while-loop subshell). */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    let kids: string[] = [];
    try {
      kids = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      return;
    }
    for (const k of kids) {
      out.push(Number(k));
      walk(Number(k));
    }
  };
  walk(pid);
  return out;
}

export function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

export interface Proc {
  child: ChildProcess;
  out: () => string;
  stop(): Promise<void>;
}

export function start(cmd: string, args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(cmd, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so stop() ends the shell's whole pipeline
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    if (out.length > 1_000_000) out = out.slice(-500_000);
  });
  child.stderr!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return {
    child,
    out: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // already gone
      }
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** A sidecar started (under the memory limit, if any) with its process tree's peak RSS sampled. */
export interface Sampled {
  proc: Proc;
  /** The sidecar and its descendants (a shell's git or rsync children). */
  pids(): number[];
  peakKiB(): number;
  stopSampling(): void;
}

export function startSampled(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  limit: MemoryLimit | undefined,
  everyMs: number,
): Sampled {
  const [run, runArgs] = limit ? limit.wrap(cmd, args) : [cmd, args];
  const proc = start(run, runArgs, env);
  const pids = () => [proc.child.pid!, ...descendants(proc.child.pid!)];
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(
      peak,
      pids().reduce((n, p) => n + rssKiB(p), 0),
    );
  }, everyMs);
  return { proc, pids, peakKiB: () => peak, stopSampling: () => clearInterval(sampler) };
}

/** multipod-web serving `root` on a free port, once it logs that it listens; its process and base URL. */
export async function startWeb(main: string, root: string): Promise<{ proc: Proc; base: string }> {
  const proc = start(process.execPath, [main], {
    WEB_ROOT: root,
    WEB_PORT: '0',
    WEB_HOST: '127.0.0.1',
    WEB_ACCESS_LOG: 'off',
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const line = proc
      .out()
      .split('\n')
      .find((l) => l.includes('"msg":"listening"'));
    if (line) return { proc, base: `http://127.0.0.1:${JSON.parse(line).port as number}` };
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`web did not start: ${proc.out()}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}
