// Runs each container as a child process, like the kubelet: restarts one that dies (with a short
// back-off), stops one on request (SIGTERM, then SIGKILL after the grace period), and forwards
// every output line, prefixed with the container's name.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export type ContainerState = 'starting' | 'running' | 'stopping' | 'stopped' | 'waiting-restart';

export interface ContainerSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

export interface ContainerStatus {
  readonly name: string;
  readonly state: ContainerState;
  readonly pid: number | undefined;
  readonly restarts: number;
  readonly startedAt: number | undefined;
  readonly lastExit: { code: number | null; signal: string | null; at: number } | undefined;
}

export interface SupervisorOptions {
  /** Receives each output line of a container. */
  onLine(name: string, line: string): void;
  /** Something to tell the user (a restart, an exit). */
  onEvent(message: string): void;
  /** Grace period between SIGTERM and SIGKILL, like terminationGracePeriodSeconds. */
  graceMs?: number;
  /** First restart delay; doubles up to maxBackoffMs (CrashLoopBackOff, scaled down). */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export class Container {
  readonly spec: ContainerSpec;
  private readonly opts: SupervisorOptions;
  private child: ChildProcess | undefined;
  private state: ContainerState = 'stopped';
  private restarts = 0;
  private startedAt: number | undefined;
  private lastExit: ContainerStatus['lastExit'];
  /** False once the user (or shutdown) asked it to stay down. */
  private wanted = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(spec: ContainerSpec, opts: SupervisorOptions) {
    this.spec = spec;
    this.opts = opts;
  }

  status(): ContainerStatus {
    return {
      name: this.spec.name,
      state: this.state,
      pid: this.child?.pid,
      restarts: this.restarts,
      startedAt: this.startedAt,
      lastExit: this.lastExit,
    };
  }

  start(): void {
    this.wanted = true;
    clearTimeout(this.restartTimer);
    if (this.child) return;
    this.spawnChild();
  }

  /** SIGKILL, as when a container crashes: the supervisor restarts it. */
  kill(): void {
    this.child?.kill('SIGKILL');
  }

  /** SIGTERM and wait; stays down until start(). */
  async stop(): Promise<void> {
    this.wanted = false;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child) {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    child.kill('SIGTERM');
    const grace = setTimeout(() => child.kill('SIGKILL'), this.opts.graceMs ?? 12_000);
    await this.exited;
    clearTimeout(grace);
  }

  private spawnChild(): void {
    const child = spawn(this.spec.command, [...this.spec.args], {
      cwd: this.spec.cwd,
      env: { ...process.env, ...this.spec.env },
      // Its own process group: a terminal's Ctrl-C reaches the runner only, which then stops
      // each container once, in order, as the kubelet does.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.state = 'starting';
    this.startedAt = Date.now();
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => this.opts.onLine(this.spec.name, line));
    }
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.child = undefined;
        this.lastExit = { code, signal, at: Date.now() };
        resolve();
        if (!this.wanted) {
          this.state = 'stopped';
          this.opts.onEvent(`${this.spec.name} stopped (${signal ?? `exit code ${code}`})`);
          return;
        }
        this.restarts++;
        const delay = Math.min(
          (this.opts.backoffMs ?? 1000) * 2 ** Math.min(this.restarts - 1, 10),
          this.opts.maxBackoffMs ?? 10_000,
        );
        this.state = 'waiting-restart';
        this.opts.onEvent(
          `${this.spec.name} exited (${signal ?? `code ${code}`}); restarting in ${delay / 1000}s (restart #${this.restarts})`,
        );
        this.restartTimer = setTimeout(() => {
          if (this.wanted && !this.child) this.spawnChild();
        }, delay);
      });
    });
    child.once('spawn', () => {
      if (this.child === child) this.state = 'running';
    });
    child.once('error', (err) => this.opts.onEvent(`${this.spec.name}: cannot start: ${err.message}`));
  }
}

export class Supervisor {
  readonly containers: Container[];

  constructor(specs: readonly ContainerSpec[], opts: SupervisorOptions) {
    this.containers = specs.map((s) => new Container(s, opts));
  }

  get(name: string): Container | undefined {
    return this.containers.find((c) => c.spec.name === name);
  }

  startAll(): void {
    for (const c of this.containers) c.start();
  }

  /** Stops every container at once and waits for all of them. */
  async stopAll(): Promise<void> {
    await Promise.all(this.containers.map((c) => c.stop()));
  }

  /** Last resort on an unexpected exit of the runner: SIGKILL whatever still runs. */
  killAllNow(): void {
    for (const c of this.containers) {
      const pid = c.status().pid;
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }
}
