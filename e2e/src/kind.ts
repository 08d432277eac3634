// The kind driver: the real target. Creates the cluster from e2e/kind-config.yaml if needed,
// builds the images with docker (images/Dockerfile, default target: pnpm build inside, distroless
// runtime), loads them into the node as single-platform archives, `kubectl apply -k` in a
// namespace per apply, waits for Ready and port-forwards. Needs a Docker daemon, kind and kubectl
// (GitHub Actions has them). The commands are injectable, so the driver's own logic is unit
// tested with stand-ins that print what kubectl, docker and kind print (src/kind.system.test.ts).
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { COMPONENTS, imageName } from '../../images/offline.ts';
import { bringUp, type Deployment, type Driver, type ExecResult, execResult } from './driver.ts';
import { PortForward } from './port-forward.ts';
import { type K8sObject, manifestsDir, render, repoRoot, targetName } from './render.ts';
import { eventually } from './wait.ts';

export const CLUSTER = process.env.E2E_KIND_CLUSTER ?? 'multipod';

/** The programs the driver runs; tests replace them with stand-ins. */
export interface Tools {
  kubectl: string;
  docker: string;
  kind: string;
}
const TOOLS: Tools = { kubectl: 'kubectl', docker: 'docker', kind: 'kind' };

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
      `${cmd} ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout || r.error?.message || '').trim()}`,
    );
  }
  return r.stdout ?? '';
}

/** The same, without blocking the event loop (stops that run side by side). */
function runAsync(cmd: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${(stderr || err.message).trim()}`));
      else resolve(stdout);
    });
  });
}

/**
 * A fresh namespace can refuse pods for a moment: its `default` ServiceAccount is created by a
 * controller after the namespace, and pod admission needs it (kubernetes/kubernetes#66689).
 */
export async function waitForDefaultServiceAccount(
  kubectl: string,
  namespace: string,
  timeoutMs = 60_000,
): Promise<void> {
  await eventually(
    async () => {
      await runAsync(kubectl, ['-n', namespace, 'get', 'serviceaccount', 'default', '-o', 'name'], 20_000);
    },
    { timeoutMs, intervalMs: 250, what: `ServiceAccount default in namespace ${namespace}` },
  );
}

/**
 * A kustomization that puts `manifests/<dir>` in `namespace`, written to a temporary folder.
 * Unlike `kubectl apply -n`, kustomize's namespace also rewrites RoleBinding subjects, so a
 * ServiceAccount bound in the manifests (adapter-prometheus) is the one in this namespace.
 */
export function namespacedKustomization(
  target: string | readonly string[],
  namespace: string,
): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `${namespace}-`));
  // kustomize takes relative paths only; a directory outside the root is fine. A resource may be a
  // kustomization folder or a plain YAML file: the same objects `kubectl apply -f` would create.
  const resources = (typeof target === 'string' ? [target] : target).map(
    (t) => `  - ${relative(path, resolve(manifestsDir, t))}`,
  );
  writeFileSync(
    join(path, 'kustomization.yaml'),
    [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      `namespace: ${namespace}`,
      'resources:',
      ...resources,
      '',
    ].join('\n'),
  );
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * The order in which the kubelet stops a pod's containers on deletion: every regular container at
 * once; after they have exited, the native sidecars (init containers with restartPolicy: Always)
 * one at a time, in the reverse of their start order.
 */
export function stopPhases(spec: {
  containers: { name: string }[];
  initContainers?: { name: string; restartPolicy?: string }[];
}): string[][] {
  const sidecars = (spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => c.name);
  return [spec.containers.map((c) => c.name), ...sidecars.reverse().map((s) => [s])];
}

/** A CRI timestamp as crictl prints it (RFC 3339, or nanoseconds) → milliseconds. */
export function criTime(value: string | number): number {
  if (typeof value === 'number' || /^\d+$/.test(value)) return Number(value) / 1e6;
  return Date.parse(value);
}

let applies = 0;

export class KindDeployment implements Deployment {
  readonly pods: string[];
  /** kubelet: sync period (1 min, jittered) plus the ConfigMap cache/watch delay. */
  readonly configMapDelayMs = 120_000;
  private readonly ns: string;
  private readonly specs: Map<string, K8sObject>;
  private readonly tools: Tools;
  private readonly node: string;
  private readonly forwards = new Map<string, PortForward>();

  constructor(ns: string, pods: K8sObject[], tools: Partial<Tools> = {}, cluster = CLUSTER) {
    this.ns = ns;
    this.pods = pods.map((p) => p.metadata.name);
    this.specs = new Map(pods.map((p) => [p.metadata.name, p]));
    this.tools = { ...TOOLS, ...tools };
    this.node = `${cluster}-control-plane`;
  }

  /** Adds a pod the apply created under another name (a Deployment's), with its spec. */
  track(pod: K8sObject): void {
    this.pods.push(pod.metadata.name);
    this.specs.set(pod.metadata.name, pod);
  }

  /** One supervised `kubectl port-forward` per pod (see port-forward.ts); resolves when it forwards. */
  async forward(pod: string, containerPorts: number[]): Promise<void> {
    if (containerPorts.length === 0 || this.forwards.has(pod)) return;
    const fwd = new PortForward({ kubectl: this.tools.kubectl, namespace: this.ns, pod, containerPorts });
    this.forwards.set(pod, fwd);
    await fwd.start();
  }

  url(pod: string, containerPort: number): string {
    const hostPort = this.forwards.get(pod)?.localPort(containerPort);
    if (!hostPort) throw new Error(`pod ${pod}: no port-forward for containerPort ${containerPort}`);
    return `http://127.0.0.1:${hostPort}`;
  }

  async logs(pod: string, container: string): Promise<string> {
    return (await execResult(this.tools.kubectl, ['-n', this.ns, 'logs', pod, '-c', container])).stdout;
  }

  exec(pod: string, container: string, argv: readonly string[]): Promise<ExecResult> {
    return execResult(this.tools.kubectl, ['-n', this.ns, 'exec', pod, '-c', container, '--', ...argv]);
  }

  async updateConfigMap(name: string, data: Record<string, string>): Promise<void> {
    // A merge patch keeps labels; keys not in `data` are removed with null, as an edited ConfigMap drops them.
    const current = JSON.parse(
      run(this.tools.kubectl, ['-n', this.ns, 'get', 'configmap', name, '-o', 'json']),
    ) as { data?: Record<string, string> };
    const patch: Record<string, string | null> = { ...data };
    for (const key of Object.keys(current.data ?? {})) if (!(key in data)) patch[key] = null;
    run(this.tools.kubectl, [
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

  /** `crictl` in the kind node. */
  private crictl(args: readonly string[]): string {
    return run(this.tools.docker, ['exec', this.node, 'crictl', ...args]);
  }

  /** The pod's running containers in the node: name → CRI id. */
  private containerIds(pod: string): Map<string, string> {
    const listed = JSON.parse(
      this.crictl([
        'ps',
        '-o',
        'json',
        '--label',
        `io.kubernetes.pod.name=${pod}`,
        '--label',
        `io.kubernetes.pod.namespace=${this.ns}`,
      ]),
    ) as { containers?: { id: string; metadata: { name: string } }[] };
    return new Map((listed.containers ?? []).map((c) => [c.metadata.name, c.id]));
  }

  async killContainer(pod: string, container: string): Promise<void> {
    // Stop with no grace = SIGKILL, as an OOM kill or crash would.
    const id = this.containerIds(pod).get(container);
    if (!id) throw new Error(`${pod}/${container}: no running container found in ${this.node}`);
    this.crictl(['stop', '--timeout', '0', id]);
  }

  async restartCount(pod: string, container: string): Promise<number> {
    const status = JSON.parse(run(this.tools.kubectl, ['-n', this.ns, 'get', 'pod', pod, '-o', 'json'])) as {
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
  ): Promise<{ exitCodes: Record<string, number>; ms: number; order: string[] }> {
    // What the kubelet does on deletion (CRI StopContainer with what is left of the grace period),
    // in its order: regular containers side by side, then native sidecars in reverse start order.
    const spec = this.specs.get(pod)?.spec;
    if (!spec) throw new Error(`pod ${pod} is not part of this deployment`);
    const ids = this.containerIds(pod);
    const started = Date.now();
    for (const phase of stopPhases(spec)) {
      const left = Math.max(1, Math.ceil(graceSeconds - (Date.now() - started) / 1000));
      await Promise.all(
        phase
          .filter((name) => ids.has(name))
          .map((name) =>
            runAsync(
              this.tools.docker,
              ['exec', this.node, 'crictl', 'stop', '--timeout', String(left), ids.get(name)!],
              (left + 30) * 1000,
            ),
          ),
      );
    }
    const ms = Date.now() - started;
    const exitCodes: Record<string, number> = {};
    const finished: [string, number][] = [];
    for (const [name, id] of ids) {
      const info = JSON.parse(this.crictl(['inspect', id])) as {
        status: { exitCode: number; finishedAt: string | number };
      };
      exitCodes[name] = info.status.exitCode;
      finished.push([name, criTime(info.status.finishedAt)]);
    }
    const order = finished.sort((a, b) => a[1] - b[1]).map(([name]) => name);
    return { exitCodes, ms, order };
  }

  async deletePod(pod: string): Promise<void> {
    this.forwards.get(pod)?.stop();
    this.forwards.delete(pod);
    run(this.tools.kubectl, ['-n', this.ns, 'delete', 'pod', pod, '--wait=true', '--timeout=60s']);
    const i = this.pods.indexOf(pod);
    if (i >= 0) this.pods.splice(i, 1);
  }

  async waitReady(pod: string, timeoutMs = 180_000): Promise<void> {
    const started = Date.now();
    run(this.tools.kubectl, [
      '-n',
      this.ns,
      'wait',
      '--for=condition=Ready',
      `pod/${pod}`,
      `--timeout=${Math.ceil(timeoutMs / 1000)}s`,
    ]);
    // A container restart may have taken the port-forward down; its supervisor brings it back on
    // the same ports, and Ready means reachable again.
    await this.forwards.get(pod)?.ready(Math.max(30_000, timeoutMs - (Date.now() - started)));
  }

  async dump(): Promise<string> {
    const kubectl = this.tools.kubectl;
    const out: string[] = [];
    for (const pod of this.pods) {
      out.push(`===== kubectl describe pod ${pod} =====`);
      out.push(run(kubectl, ['-n', this.ns, 'describe', 'pod', pod], { allowFail: true }));
      out.push(`===== logs ${pod} (all containers, current and previous) =====`);
      out.push(
        run(kubectl, ['-n', this.ns, 'logs', pod, '--all-containers', '--prefix', '--tail=200'], {
          allowFail: true,
        }),
      );
      out.push(
        run(
          kubectl,
          ['-n', this.ns, 'logs', pod, '--all-containers', '--prefix', '--previous', '--tail=100'],
          { allowFail: true },
        ),
      );
      const fwd = this.forwards.get(pod);
      if (fwd) {
        out.push(`===== kubectl port-forward pod/${pod} (last lines; started ${fwd.starts}×) =====`);
        out.push(fwd.output());
      }
    }
    return out.join('\n');
  }

  async down(): Promise<void> {
    for (const f of this.forwards.values()) f.stop();
    this.forwards.clear();
    run(this.tools.kubectl, ['delete', 'namespace', this.ns, '--wait=true', '--timeout=120s'], {
      allowFail: true,
    });
  }
}

/** `docker image save` arguments for one image: only the daemon's platform where it can say so. */
export function saveArgs(
  tag: string,
  file: string,
  server: { apiVersion: string; os: string; arch: string },
) {
  const [major = 0, minor = 0] = server.apiVersion.split('.').map(Number);
  // `--platform` needs API 1.48 (Docker 28). With the containerd image store (Docker 29's
  // default) a plain save can name content of other platforms that is not there, and the
  // node's `ctr import --all-platforms` fails with "content digest … not found" (kind#3795).
  const platform =
    major > 1 || (major === 1 && minor >= 48) ? ['--platform', `${server.os}/${server.arch}`] : [];
  return ['image', 'save', ...platform, '-o', file, tag];
}

export class KindDriver implements Driver {
  readonly name = 'kind' as const;
  private readonly tools: Tools;

  constructor(tools: Partial<Tools> = {}) {
    this.tools = { ...TOOLS, ...tools };
  }

  hostAddress(): string {
    // The node is a container on Docker's `kind` network, whose gateway is this machine; pod
    // traffic to it leaves through the node, as to any address outside the cluster.
    const gateways = run(this.tools.docker, [
      'network',
      'inspect',
      'kind',
      '--format',
      '{{range .IPAM.Config}}{{.Gateway}} {{end}}',
    ]);
    const v4 = gateways.split(/\s+/).find((g) => /^\d+\.\d+\.\d+\.\d+$/.test(g));
    if (!v4)
      throw new Error(
        `the kind network has no IPv4 gateway (docker network inspect kind: ${gateways.trim()})`,
      );
    return v4;
  }

  async prepare(): Promise<void> {
    const { kind, kubectl, docker } = this.tools;
    const clusters = run(kind, ['get', 'clusters'], { allowFail: true }).split('\n');
    if (!clusters.includes(CLUSTER)) {
      run(kind, [
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
    run(kubectl, ['config', 'use-context', `kind-${CLUSTER}`]);
    const [apiVersion = '', os = 'linux', arch = ''] = run(docker, [
      'version',
      '--format',
      '{{.Server.APIVersion}} {{.Server.Os}} {{.Server.Arch}}',
    ])
      .trim()
      .split(' ');
    const work = mkdtempSync(join(tmpdir(), 'multipod-kind-images-'));
    try {
      for (const c of COMPONENTS) {
        const tag = imageName(c);
        run(docker, [
          'build',
          '-f',
          join(repoRoot, 'images/Dockerfile'),
          '--build-arg',
          `COMPONENT=${c}`,
          '-t',
          tag,
          repoRoot,
        ]);
        const archive = join(work, `${c}.tar`);
        run(docker, saveArgs(tag, archive, { apiVersion, os, arch }));
        run(kind, ['load', 'image-archive', archive, '--name', CLUSTER]);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  async apply(target: string | readonly string[]): Promise<Deployment> {
    const { kubectl } = this.tools;
    const dir = targetName(target);
    const objects = render(target);
    const ns = `e2e-${dir.replace(/[^a-z0-9]+/g, '-')}-${process.pid}-${++applies}`
      .slice(0, 63)
      .replace(/-+$/, '');
    run(kubectl, ['create', 'namespace', ns]);
    const kustomization = namespacedKustomization(target, ns);
    const pods = objects.filter((o) => o.kind === 'Pod');
    const deployments = objects.filter((o) => o.kind === 'Deployment');
    const dep = new KindDeployment(ns, pods, this.tools);
    return bringUp(dep, async () => {
      try {
        await waitForDefaultServiceAccount(kubectl, ns);
        run(kubectl, ['apply', '-k', kustomization.path]);
      } finally {
        kustomization.remove();
      }
      // A Deployment's pods have generated names: found by its selector once it has rolled out.
      for (const d of deployments) {
        run(kubectl, ['-n', ns, 'rollout', 'status', `deployment/${d.metadata.name}`, '--timeout=180s']);
        const selector = Object.entries(d.spec.selector.matchLabels ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(',');
        const names = run(kubectl, [
          '-n',
          ns,
          'get',
          'pods',
          '-l',
          selector,
          '--field-selector=status.phase=Running',
          '-o',
          'jsonpath={.items[*].metadata.name}',
        ])
          .trim()
          .split(/\s+/)
          .filter(Boolean);
        if (names.length === 0)
          throw new Error(`Deployment ${d.metadata.name}: no running pod for ${selector}`);
        for (const name of names) {
          const pod: K8sObject = {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { ...d.spec.template.metadata, name },
            spec: d.spec.template.spec,
          };
          dep.track(pod);
          pods.push(pod);
        }
      }
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
    const { kubectl } = this.tools;
    const left = run(kubectl, ['get', 'namespaces', '-o', 'name'], { allowFail: true })
      .split('\n')
      .filter((n) => n.startsWith(`namespace/e2e-`));
    for (const ns of left) run(kubectl, ['delete', ns, '--wait=false'], { allowFail: true });
    return left;
  }
}
