// What a test may do with a deployed kustomization, whichever engine runs it. The tests only
// see this interface; kind.ts and podman.ts implement it. E2E_DRIVER=kind|podman chooses, else
// the machine decides: kind when a Docker daemon and kind are there, podman otherwise.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

const execFileAsync = promisify(execFile);

/** Runs an engine's exec command; a non-zero exit is a result to assert on, not an exception. */
export async function execResult(cmd: string, args: readonly string[]): Promise<ExecResult> {
  try {
    const { stdout, stderr } = await execFileAsync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** One `apply` of a kustomization: its pods, Ready, reachable from the test process. */
export interface Deployment {
  /** Names of the pods it created. */
  readonly pods: readonly string[];
  /** http://127.0.0.1:<port> reaching `containerPort` of `pod` (hostPort on podman, port-forward on kind). */
  url(pod: string, containerPort: number): string;
  /** One container's output so far, like `kubectl logs <pod> -c <container>`. */
  logs(pod: string, container: string): Promise<string>;
  /** Runs argv in one container, like `kubectl exec <pod> -c <container> -- argv`. */
  exec(pod: string, container: string, argv: readonly string[]): Promise<ExecResult>;
  /**
   * Longest time the engine itself may take to show an updated ConfigMap in the pod's volume
   * (the kubelet's sync period plus its cache; 0 when the driver writes the volume directly).
   * What the pod adds on top is the pod's own latency, which the tests bound separately.
   */
  readonly configMapDelayMs: number;
  /** Replaces a ConfigMap's data, as `kubectl apply` of an edited ConfigMap does. */
  updateConfigMap(name: string, data: Record<string, string>): Promise<void>;
  /** SIGKILLs a container's process, as a crash would; the pod's restartPolicy brings it back. */
  killContainer(pod: string, container: string): Promise<void>;
  /** How many times the container has been restarted. */
  restartCount(pod: string, container: string): Promise<number>;
  /**
   * Stops every container of the pod the way the kubelet does on deletion (SIGTERM, then SIGKILL
   * after `graceSeconds`; regular containers at once, native sidecars after them in reverse start
   * order) and returns each container's exit code, how long the stop took, and, where the engine
   * records it, the containers in the order they exited.
   */
  stopPod(
    pod: string,
    graceSeconds: number,
  ): Promise<{ exitCodes: Record<string, number>; ms: number; order?: string[] }>;
  /** Deletes one pod of the deployment (e.g. a backend going away). */
  deletePod(pod: string): Promise<void>;
  /** Waits until every container of the pod is running and passes its readiness probe. */
  waitReady(pod: string, timeoutMs?: number): Promise<void>;
  /** Every container's logs and each pod's description, for failure reports. */
  dump(): Promise<string>;
  /** Deletes everything the apply created (pods, volumes, port-forwards). */
  down(): Promise<void>;
}

export interface Driver {
  readonly name: 'kind' | 'podman';
  /** Once per run: cluster, images. Idempotent. */
  prepare(): Promise<void>;
  /**
   * Deploys manifests/<dir> (a kustomization, as `kubectl apply -k`) or manifests/<file>.yaml files
   * (as `kubectl apply -f`); resolves when every pod is Ready.
   */
  apply(target: string | readonly string[]): Promise<Deployment>;
  /** Once per run, after all tests: removes any multipod pod still there; returns their names. */
  cleanup(): Promise<string[]>;
  /**
   * The address under which pods reach a server the tests start on this machine, listening on
   * 0.0.0.0 (a git server, say): podman's host.containers.internal, the kind network's gateway.
   */
  hostAddress(): string;
}

function works(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 20_000 });
  return r.status === 0;
}

export function pickDriver(): 'kind' | 'podman' {
  const wanted = process.env.E2E_DRIVER;
  if (wanted === 'kind' || wanted === 'podman') return wanted;
  if (wanted) throw new Error(`E2E_DRIVER=${wanted}: expected kind or podman`);
  if (works('docker', ['info']) && works('kind', ['version'])) return 'kind';
  if (works('podman', ['version'])) return 'podman';
  throw new Error(
    'e2e: no engine found. Install Docker + kind (E2E_DRIVER=kind), or podman: bash scripts/install-podman.sh',
  );
}

export async function createDriver(): Promise<Driver> {
  const name = pickDriver();
  if (name === 'kind') {
    const { KindDriver } = await import('./kind.ts');
    return new KindDriver();
  }
  const { PodmanDriver } = await import('./podman.ts');
  return new PodmanDriver();
}

/**
 * Brings a fresh deployment up; if that fails, the pods' logs and descriptions go into the error
 * (the engine may hold the only record of why) and everything is torn down before it is thrown.
 */
export async function bringUp<D extends Deployment>(dep: D, up: () => Promise<void>): Promise<D> {
  try {
    await up();
  } catch (err) {
    const dump = await dep.dump();
    await dep.down();
    throw new Error(`${(err as Error).message}\n${dump}`);
  }
  return dep;
}
