// One supervised `kubectl port-forward pod/<name> :p1 :p2…`. kubectl exits when the connection to
// the pod is lost (a container restart can do it); the supervisor is the only one that starts it
// again, on the same local ports once they are known, so URLs handed out stay valid. Both output
// streams are read line by line as they come and only their last lines are kept, for failure
// dumps: kubectl prints a line per connection and an error line per failed one, which must
// neither pile up in this process nor be lost when a test fails.
import { type ChildProcess, spawn } from 'node:child_process';
import { eventually } from './wait.ts';

export interface PortForwardOptions {
  /** The kubectl to run (a stand-in in unit tests). */
  kubectl: string;
  namespace: string;
  pod: string;
  containerPorts: readonly number[];
  /** First restart delay; doubles while kubectl keeps dying, up to 5 s. */
  restartDelayMs?: number;
  /** Lines of output kept for dump(). */
  keepLines?: number;
}

const FORWARDING = /^Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)$/;

export class PortForward {
  readonly #opts: Required<PortForwardOptions>;
  /** containerPort → local port, fixed by the first kubectl that forwarded them all. */
  readonly #ports = new Map<number, number>();
  /** Ports the running kubectl has announced; equal to containerPorts when it is up. */
  #announced = new Set<number>();
  readonly #tail: string[] = [];
  #child: ChildProcess | undefined;
  #timer: NodeJS.Timeout | undefined;
  #delay: number;
  #starts = 0;
  #stopped = false;

  constructor(opts: PortForwardOptions) {
    this.#opts = { restartDelayMs: 500, keepLines: 100, ...opts };
    this.#delay = this.#opts.restartDelayMs;
  }

  /** How many times kubectl was started (restarts included). */
  get starts(): number {
    return this.#starts;
  }

  /** Starts kubectl and resolves once every port is forwarded. */
  async start(timeoutMs = 30_000): Promise<void> {
    this.#spawn();
    await this.ready(timeoutMs);
  }

  /** Resolves when the running kubectl forwards every port (after a restart too). */
  async ready(timeoutMs = 30_000): Promise<void> {
    await eventually(
      () => {
        if (!this.up)
          throw new Error(
            `port-forward pod/${this.#opts.pod}: not forwarding yet; kubectl said: ${this.#tail.slice(-5).join(' | ') || '(nothing)'}`,
          );
      },
      { timeoutMs, intervalMs: 100, what: `port-forward to ${this.#opts.pod}` },
    );
  }

  get up(): boolean {
    return (
      this.#child !== undefined &&
      this.#child.exitCode === null &&
      this.#child.signalCode === null &&
      this.#opts.containerPorts.every((p) => this.#announced.has(p))
    );
  }

  /** The local port forwarding `containerPort`, once known. */
  localPort(containerPort: number): number | undefined {
    return this.#ports.get(containerPort);
  }

  /** The last lines kubectl printed, both streams, for a failure report. */
  output(): string {
    return this.#tail.join('\n');
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#child?.kill();
  }

  #spawn(): void {
    const { kubectl, namespace, pod, containerPorts } = this.#opts;
    const known = containerPorts.every((p) => this.#ports.has(p));
    const specs = containerPorts.map((p) => (known ? `${this.#ports.get(p)}:${p}` : `:${p}`));
    this.#starts++;
    this.#announced = new Set();
    const child = spawn(kubectl, ['-n', namespace, 'port-forward', `pod/${pod}`, ...specs], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    this.#lines(child.stdout!, 'out', (line) => {
      const m = FORWARDING.exec(line);
      if (!m) return;
      const local = Number(m[1]);
      const remote = Number(m[2]);
      if (!this.#ports.has(remote)) this.#ports.set(remote, local);
      this.#announced.add(remote);
      if (this.up) this.#delay = this.#opts.restartDelayMs;
    });
    this.#lines(child.stderr!, 'err');
    child.on('error', (err) => this.#keep(`spawn ${kubectl}: ${err.message}`));
    child.on('exit', (code, signal) => {
      this.#keep(`kubectl port-forward exited (${signal ?? `code ${code}`})`);
      if (this.#stopped || this.#child !== child) return;
      this.#timer = setTimeout(() => {
        if (!this.#stopped) this.#spawn();
      }, this.#delay);
      this.#delay = Math.min(this.#delay * 2, 5_000);
    });
  }

  #lines(stream: NodeJS.ReadableStream, tag: string, onLine?: (line: string) => void): void {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      partial += chunk;
      let nl = partial.indexOf('\n');
      while (nl !== -1) {
        const line = partial.slice(0, nl).trimEnd();
        partial = partial.slice(nl + 1);
        this.#keep(`${tag}: ${line}`);
        onLine?.(line);
        nl = partial.indexOf('\n');
      }
      if (partial.length > 64 * 1024) {
        this.#keep(`${tag}: ${partial.slice(0, 1024)}…`);
        partial = '';
      }
    });
  }

  #keep(line: string): void {
    this.#tail.push(line);
    if (this.#tail.length > this.#opts.keepLines) this.#tail.shift();
  }
}
