// The kind driver: the real target. Creates the cluster from e2e/kind-config.yaml if needed,
// builds the images with docker (images/Dockerfile, default target: pnpm build inside, distroless
// runtime), `kind load docker-image`s them, `kubectl apply -k` in a namespace per apply, waits
// for Ready and port-forwards. Needs a Docker daemon, kind and kubectl (GitHub Actions has them).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { COMPONENTS, imageName } from '../../images/offline.ts';
import { bringUp, type Deployment, type Driver, type ExecResult, execResult } from './driver.ts';
import { manifestsDir, render, repoRoot } from './render.ts';
import { eventually } from './wait.ts';

export const CLUSTER = process.env.E2E_KIND_CLUSTER ?? 'multipod';
const NODE = `${CLUSTER}-control-plane`;

function run(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; allowFail?: boolean } = {},
): string {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    input: opts.input,
    maxBuffer: 64 * 1024 * 1024,
    timeout: 900_000,
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(
      `${cmd} ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout || '').trim()}`,
    );
  }
  return r.stdout ?? '';
}

let applies = 0;

class KindDeployment implements Deployment {
  readonly pods: string[];
  /** kubelet: sync period (1 min, jittered) plus the ConfigMap cache/watch delay. */
  readonly configMapDelayMs = 120_000;
  private readonly ns: string;
  private readonly forwards = new Map<string, { child: ChildProcess; ports: Map<number, number> }>();
  private stopping = false;

  constructor(ns: string, pods: string[]) {
    this.ns = ns;
    this.pods = pods;
  }

  /**
   * `kubectl port-forward pod/<name> :p1 :p2…`, one per pod. kubectl may exit when a container
   * restarts; it is then started again on the same local ports, so URLs stay valid.
   */
  async forward(pod: string, containerPorts: number[]): Promise<void> {
    if (containerPorts.length === 0) return;
    const ports = new Map<number, number>();
    const start = (spec: string[]) => {
      const child = spawn('kubectl', ['-n', this.ns, 'port-forward', `pod/${pod}`, ...spec], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
        for (const m of out.matchAll(/Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)/g)) {
          ports.set(Number(m[2]), Number(m[1]));
        }
      });
      child.on('exit', () => {
        if (this.stopping) return;
        setTimeout(() => {
          if (this.stopping) return;
          // Same local ports once known, so URLs handed out stay valid; else ask again.
          const known = ports.size === containerPorts.length;
          start(
            known
              ? [...ports].map(([remote, local]) => `${local}:${remote}`)
              : containerPorts.map((p) => `:${p}`),
          );
        }, 500);
      });
      this.forwards.set(pod, { child, ports });
    };
    start(containerPorts.map((p) => `:${p}`));
    await eventually(
      () => {
        if (ports.size < containerPorts.length)
          throw new Error(`port-forward ${pod}: not all ports forwarded yet`);
      },
      { timeoutMs: 30_000, what: `port-forward to ${pod}` },
    );
  }

  url(pod: string, containerPort: number): string {
    const hostPort = this.forwards.get(pod)?.ports.get(containerPort);
    if (!hostPort) throw new Error(`pod ${pod}: no port-forward for containerPort ${containerPort}`);
    return `http://127.0.0.1:${hostPort}`;
  }

  exec(pod: string, container: string, argv: readonly string[]): Promise<ExecResult> {
    return execResult('kubectl', ['-n', this.ns, 'exec', pod, '-c', container, '--', ...argv]);
  }

  async updateConfigMap(name: string, data: Record<string, string>): Promise<void> {
    // A merge patch keeps labels; keys not in `data` are removed with null, as an edited ConfigMap drops them.
    const current = JSON.parse(run('kubectl', ['-n', this.ns, 'get', 'configmap', name, '-o', 'json'])) as {
      data?: Record<string, string>;
    };
    const patch: Record<string, string | null> = { ...data };
    for (const key of Object.keys(current.data ?? {})) if (!(key in data)) patch[key] = null;
    run('kubectl', [
      '-n',
      this.ns,
      'patch',
      'configmap',
      name,
      '--type',
      'merge',
      '-p',
      JSON.stringify({ data: patch }),
    ]);
  }

  async killContainer(pod: string, container: string): Promise<void> {
    // crictl inside the kind node: stop with no grace = SIGKILL, as an OOM kill or crash would.
    const id = run('docker', [
      'exec',
      NODE,
      'crictl',
      'ps',
      '-q',
      '--name',
      `^${container}$`,
      '--label',
      `io.kubernetes.pod.name=${pod}`,
      '--label',
      `io.kubernetes.pod.namespace=${this.ns}`,
    ])
      .trim()
      .split('\n')[0];
    if (!id) throw new Error(`${pod}/${container}: no running container found in ${NODE}`);
    run('docker', ['exec', NODE, 'crictl', 'stop', '--timeout', '0', id]);
  }

  async restartCount(pod: string, container: string): Promise<number> {
    const status = JSON.parse(run('kubectl', ['-n', this.ns, 'get', 'pod', pod, '-o', 'json'])) as {
      status: {
        containerStatuses?: { name: string; restartCount: number }[];
        initContainerStatuses?: { name: string; restartCount: number }[];
      };
    };
    const all = [...(status.status.containerStatuses ?? []), ...(status.status.initContainerStatuses ?? [])];
    return all.find((c) => c.name === container)?.restartCount ?? 0;
  }

  async stopPod(
    pod: string,
    graceSeconds: number,
  ): Promise<{ exitCodes: Record<string, number>; ms: number }> {
    // What the kubelet does on deletion: CRI StopContainer with the grace period, all at once.
    const ids = run('docker', [
      'exec',
      NODE,
      'crictl',
      'ps',
      '-q',
      '--label',
      `io.kubernetes.pod.name=${pod}`,
      '--label',
      `io.kubernetes.pod.namespace=${this.ns}`,
    ])
      .trim()
      .split('\n')
      .filter(Boolean);
    const started = Date.now();
    run('docker', ['exec', NODE, 'crictl', 'stop', '--timeout', String(graceSeconds), ...ids]);
    const ms = Date.now() - started;
    const exitCodes: Record<string, number> = {};
    for (const id of ids) {
      const info = JSON.parse(run('docker', ['exec', NODE, 'crictl', 'inspect', id])) as {
        status: { metadata: { name: string }; exitCode: number };
      };
      exitCodes[info.status.metadata.name] = info.status.exitCode;
    }
    return { exitCodes, ms };
  }

  async deletePod(pod: string): Promise<void> {
    const fwd = this.forwards.get(pod);
    this.forwards.delete(pod);
    fwd?.child.removeAllListeners('exit');
    fwd?.child.kill();
    run('kubectl', ['-n', this.ns, 'delete', 'pod', pod, '--wait=true', '--timeout=60s']);
    const i = this.pods.indexOf(pod);
    if (i >= 0) this.pods.splice(i, 1);
  }

  async waitReady(pod: string, timeoutMs = 180_000): Promise<void> {
    run('kubectl', [
      '-n',
      this.ns,
      'wait',
      '--for=condition=Ready',
      `pod/${pod}`,
      `--timeout=${Math.ceil(timeoutMs / 1000)}s`,
    ]);
    // After a container restart the old port-forward may be gone: restart it.
    const fwd = this.forwards.get(pod);
    if (fwd && fwd.child.exitCode !== null) {
      const ports = [...fwd.ports.keys()];
      await this.forward(pod, ports);
    }
  }

  async dump(): Promise<string> {
    const out: string[] = [];
    for (const pod of this.pods) {
      out.push(`===== kubectl describe pod ${pod} =====`);
      out.push(run('kubectl', ['-n', this.ns, 'describe', 'pod', pod], { allowFail: true }));
      out.push(`===== logs ${pod} (all containers, current and previous) =====`);
      out.push(
        run('kubectl', ['-n', this.ns, 'logs', pod, '--all-containers', '--prefix', '--tail=200'], {
          allowFail: true,
        }),
      );
      out.push(
        run(
          'kubectl',
          ['-n', this.ns, 'logs', pod, '--all-containers', '--prefix', '--previous', '--tail=100'],
          {
            allowFail: true,
          },
        ),
      );
    }
    return out.join('\n');
  }

  async down(): Promise<void> {
    this.stopping = true;
    for (const f of this.forwards.values()) f.child.kill();
    this.forwards.clear();
    run('kubectl', ['delete', 'namespace', this.ns, '--wait=true', '--timeout=120s'], { allowFail: true });
  }
}

export class KindDriver implements Driver {
  readonly name = 'kind' as const;

  async prepare(): Promise<void> {
    const clusters = run('kind', ['get', 'clusters'], { allowFail: true }).split('\n');
    if (!clusters.includes(CLUSTER)) {
      run('kind', [
        'create',
        'cluster',
        '--name',
        CLUSTER,
        '--config',
        join(repoRoot, 'e2e/kind-config.yaml'),
        '--wait',
        '120s',
      ]);
    }
    run('kubectl', ['config', 'use-context', `kind-${CLUSTER}`]);
    for (const c of COMPONENTS) {
      const tag = imageName(c);
      run('docker', [
        'build',
        '-f',
        join(repoRoot, 'images/Dockerfile'),
        '--build-arg',
        `COMPONENT=${c}`,
        '-t',
        tag,
        repoRoot,
      ]);
      run('kind', ['load', 'docker-image', tag, '--name', CLUSTER]);
    }
  }

  async apply(dir: string): Promise<Deployment> {
    const objects = render(dir);
    const ns = `e2e-${dir.replace(/[^a-z0-9]+/g, '-')}-${process.pid}-${++applies}`
      .slice(0, 63)
      .replace(/-+$/, '');
    run('kubectl', ['create', 'namespace', ns]);
    run('kubectl', ['-n', ns, 'apply', '-k', join(manifestsDir, dir)]);
    const pods = objects.filter((o) => o.kind === 'Pod');
    const dep = new KindDeployment(
      ns,
      pods.map((p) => p.metadata.name),
    );
    return bringUp(dep, async () => {
      for (const p of pods) {
        await dep.waitReady(p.metadata.name);
        const ports = [...(p.spec.initContainers ?? []), ...p.spec.containers].flatMap(
          (c: { ports?: { containerPort: number }[] }) => (c.ports ?? []).map((x) => x.containerPort),
        );
        await dep.forward(p.metadata.name, ports);
      }
    });
  }

  async cleanup(): Promise<string[]> {
    // The cluster is kept for the next run (delete it with `kind delete cluster --name multipod`).
    // Namespaces are deleted by each deployment; any e2e namespace still there is removed here.
    const left = run('kubectl', ['get', 'namespaces', '-o', 'name'], { allowFail: true })
      .split('\n')
      .filter((n) => n.startsWith(`namespace/e2e-`));
    for (const ns of left) run('kubectl', ['delete', ns, '--wait=false'], { allowFail: true });
    return left;
  }
}
