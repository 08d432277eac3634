// The podman driver: the same rendered manifests, run with `podman kube play` (podman 4.3, no
// registry, no systemd). It changes only what podman cannot do the Kubernetes way, each listed
// in e2e/README.md: hostPort for access, emptyDir names made per-pod, pod sysctls passed through
// containers.conf, Secrets as ConfigMaps, cluster DNS for headless-Service pods as hostAliases, readiness probes run by
// the driver from the host (as the kubelet does), ConfigMap updates written the kubelet's way.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  buildComponent,
  buildComponentFromSource,
  buildNodeBase,
  buildStandIns,
  COMPONENTS,
} from '../../images/offline.ts';
import { freePort } from '../../packages/service/src/testing.ts';
import { bringUp, type Deployment, type Driver, type ExecResult, execResult } from './driver.ts';
import { type K8sObject, render, repoRoot, targetName } from './render.ts';
import { eventually } from './wait.ts';

function podman(
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; allowFail?: boolean } = {},
): string {
  const r = spawnSync('podman', args, {
    encoding: 'utf8',
    env: opts.env ?? process.env,
    maxBuffer: 64 * 1024 * 1024,
    timeout: 180_000,
  });
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(
      `podman ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout || '').trim()}`,
    );
  }
  return r.stdout ?? '';
}

// biome-ignore lint/suspicious/noExplicitAny: container specs from rendered YAML
type Container = any;

function allContainers(pod: K8sObject): Container[] {
  return [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])];
}

/** containers.conf with the pod's sysctls as defaults: how the kubelet's pod sysctls reach podman. */
function confWithSysctls(sysctls: { name: string; value: string }[]): string {
  const base = existsSync('/etc/containers/containers.conf')
    ? readFileSync('/etc/containers/containers.conf', 'utf8')
    : '[containers]\n';
  const line = `default_sysctls = [${sysctls.map((s) => JSON.stringify(`${s.name}=${s.value}`)).join(', ')}]`;
  return base.includes('[containers]')
    ? base.replace('[containers]', `[containers]\n${line}`)
    : `${base}\n[containers]\n${line}\n`;
}

interface Played {
  pod: K8sObject;
  file: string;
  ip: string;
  hostPorts: Map<number, number>;
  volumes: string[];
}

class PodmanDeployment implements Deployment {
  /** The driver writes the ConfigMap's volume itself, at once. */
  readonly configMapDelayMs = 0;
  private readonly played = new Map<string, Played>();
  /**
   * The cluster DNS of a headless Service, as names -> IPs: each pod with hostname + subdomain
   * (backend-0.backend), and the Service's own name (backend) -> every such pod.
   */
  private readonly dns = new Map<string, string[]>();
  private readonly configMapVolumes = new Set<string>();

  private readonly dir: string;
  private readonly work: string;
  private readonly configMaps: K8sObject[];

  constructor(dir: string, work: string, configMaps: K8sObject[]) {
    this.dir = dir;
    this.work = work;
    this.configMaps = configMaps;
  }

  get pods(): string[] {
    return [...this.played.keys()];
  }

  /** Plays a Pod, or a Deployment as `kube play` runs one: a single pod named `<name>-pod-0`. */
  async play(source: K8sObject): Promise<void> {
    const doc = structuredClone(source);
    const pod = podOf(doc);
    const name = pod.metadata.name;
    // A pod left by an aborted run (Ctrl-C) would make `kube play` fail: remove it first.
    if (spawnSync('podman', ['pod', 'exists', name]).status === 0) {
      podman(['pod', 'rm', '--force', '--time', '0', name], { allowFail: true });
    }
    if (doc.kind === 'Deployment' && (pod.spec.initContainers ?? []).length > 0) {
      throw new Error(
        `Deployment ${doc.metadata.name}: init containers are not run by this driver in a Deployment (podman 4.3 gives them the pod's restartPolicy, Always); use a Pod`,
      );
    }
    if ((pod.spec.initContainers ?? []).some((c: Container) => c.restartPolicy === 'Always')) {
      throw new Error(
        `${name}: native sidecars (initContainers with restartPolicy: Always) need Kubernetes ≥ 1.29; podman 4.3 runs them as plain init containers`,
      );
    }
    // podman 4.3 gives init containers the pod's restartPolicy: with Always (the default) it
    // restarts a finished init container forever and never starts the pod. OnFailure keeps the
    // Kubernetes meaning for init containers (run once, retry on failure); app containers still
    // come back after a crash (a SIGKILL is a failure). Keep them to read their exit code.
    if ((pod.spec.initContainers ?? []).length > 0 && (pod.spec.restartPolicy ?? 'Always') === 'Always') {
      pod.spec.restartPolicy = 'OnFailure';
      pod.metadata.annotations = {
        ...pod.metadata.annotations,
        'io.podman.annotations.init.container.type': 'always',
      };
    }
    // podman 4.3 names an emptyDir volume after the volume alone, so two pods with an emptyDir
    // "www" would share one; Kubernetes gives each pod its own. Make the names per-pod.
    const volumes: string[] = [];
    for (const v of pod.spec.volumes ?? []) {
      if (v.emptyDir) {
        const renamed = `${name}-${v.name}`;
        for (const c of allContainers(pod)) {
          for (const m of c.volumeMounts ?? []) if (m.name === v.name) m.name = renamed;
        }
        v.name = renamed;
        volumes.push(renamed);
        podman(['volume', 'rm', '--force', renamed], { allowFail: true });
      }
      if (v.configMap && !this.configMapVolumes.has(v.configMap.name)) {
        // A volume left by an earlier run would keep its old files: start from the manifest's.
        podman(['volume', 'rm', '--force', v.configMap.name], { allowFail: true });
        this.configMapVolumes.add(v.configMap.name);
      }
    }
    // No port-forward and no Service: publish every declared port on a loopback hostPort.
    const hostPorts = new Map<number, number>();
    const assignPorts = async () => {
      for (const c of allContainers(pod)) {
        for (const p of c.ports ?? []) {
          const hostPort = await freePort();
          p.hostPort = hostPort;
          p.hostIP = '127.0.0.1';
          hostPorts.set(p.containerPort, hostPort);
        }
      }
    };
    await assignPorts();
    // Cluster DNS of headless-Service pods (backend-0.backend), as /etc/hosts entries.
    if (this.dns.size > 0) {
      pod.spec.hostAliases = [
        ...(pod.spec.hostAliases ?? []),
        ...[...this.dns].flatMap(([host, ips]) =>
          ips.map((ip) => ({
            ip,
            hostnames: [host, `${host}.default.svc`, `${host}.default.svc.cluster.local`],
          })),
        ),
      ];
    }
    const used = new Set(
      (pod.spec.volumes ?? []).map((v: { configMap?: { name: string } }) => v.configMap?.name),
    );
    const file = join(this.work, `${name}.yaml`);
    const env = { ...process.env };
    const sysctls = pod.spec.securityContext?.sysctls as { name: string; value: string }[] | undefined;
    if (sysctls?.length) {
      const conf = join(this.work, `${name}.containers.conf`);
      writeFileSync(conf, confWithSysctls(sysctls));
      env.CONTAINERS_CONF = conf;
    }
    for (let attempt = 1; ; attempt++) {
      const docs = [...this.configMaps.filter((cm) => used.has(cm.metadata.name)), doc];
      writeFileSync(file, docs.map((d) => stringify(d)).join('---\n'));
      try {
        podman(['kube', 'play', file], { env });
        break;
      } catch (err) {
        // A free port can be taken by another process between the check and the play: retry.
        if (attempt >= 3 || !/address already in use/i.test((err as Error).message)) throw err;
        podman(['pod', 'rm', '--force', '--time', '0', name], { allowFail: true });
        await assignPorts();
      }
    }
    // A Kubernetes emptyDir is an empty directory anyone in the pod may write (mode 0777). podman
    // fills a new volume with what the image has at the mount point, owned as there (nginx's html,
    // root's): give the pod's containers the directory they would have on Kubernetes.
    for (const v of volumes) {
      const dir = podman(['volume', 'inspect', v, '--format', '{{.Mountpoint}}'], { allowFail: true }).trim();
      if (dir) chmodSync(dir, 0o777);
    }
    const infra = podman(['pod', 'inspect', name, '--format', '{{.InfraContainerID}}']).trim();
    const ip = podman([
      'inspect',
      infra,
      '--format',
      '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
    ]).trim();
    this.played.set(name, { pod, file, ip, hostPorts, volumes });
    if (pod.spec.hostname && pod.spec.subdomain) {
      this.dns.set(`${pod.spec.hostname}.${pod.spec.subdomain}`, [ip]);
      this.dns.set(pod.spec.subdomain, [...(this.dns.get(pod.spec.subdomain) ?? []), ip]);
    }
  }

  private get(pod: string): Played {
    const p = this.played.get(pod);
    if (!p) throw new Error(`pod ${pod} is not part of ${this.dir} (pods: ${this.pods.join(', ')})`);
    return p;
  }

  url(pod: string, containerPort: number): string {
    const hostPort = this.get(pod).hostPorts.get(containerPort);
    if (!hostPort) throw new Error(`pod ${pod} declares no containerPort ${containerPort}`);
    return `http://127.0.0.1:${hostPort}`;
  }

  async logs(pod: string, container: string): Promise<string> {
    this.get(pod);
    const r = await execResult('podman', ['logs', `${pod}-${container}`]);
    return r.stdout + r.stderr;
  }

  exec(pod: string, container: string, argv: readonly string[]): Promise<ExecResult> {
    this.get(pod);
    return execResult('podman', ['exec', `${pod}-${container}`, ...argv]);
  }

  /**
   * Writes the new data into the ConfigMap's volume the way the kubelet's AtomicWriter does:
   * a new hidden timestamped folder, `..data` swapped to it by rename, each key a symlink into
   * `..data`. So content-sync sees what it would see on Kubernetes.
   */
  async updateConfigMap(name: string, data: Record<string, string>): Promise<void> {
    const mount = podman(['volume', 'inspect', name, '--format', '{{.Mountpoint}}']).trim();
    const now = new Date();
    const stamp = `..${now.toISOString().replace(/[-:T]/g, '_').replace(/\..*$/, '')}.${process.hrtime.bigint()}`;
    mkdirSync(join(mount, stamp), { mode: 0o755 });
    for (const [key, value] of Object.entries(data))
      writeFileSync(join(mount, stamp, key), value, { mode: 0o644 });
    const tmp = join(mount, '..data_tmp');
    rmSync(tmp, { force: true });
    symlinkSync(stamp, tmp);
    let old: string | null = null;
    try {
      old = readlinkSync(join(mount, '..data'));
    } catch {}
    renameSync(tmp, join(mount, '..data'));
    for (const key of Object.keys(data)) {
      const path = join(mount, key);
      let linked = false;
      try {
        linked = lstatSync(path).isSymbolicLink() && readlinkSync(path) === `..data/${key}`;
      } catch {}
      if (!linked) {
        symlinkSync(`..data/${key}`, join(mount, `.${key}.tmp`));
        renameSync(join(mount, `.${key}.tmp`), path);
      }
    }
    for (const entry of readdirSync(mount)) {
      if (entry.startsWith('.')) continue;
      if (!(entry in data)) rmSync(join(mount, entry), { force: true });
    }
    if (old) rmSync(join(mount, old), { recursive: true, force: true });
  }

  async killContainer(pod: string, container: string): Promise<void> {
    this.get(pod);
    const pid = Number(podman(['inspect', `${pod}-${container}`, '--format', '{{.State.Pid}}']).trim());
    if (!pid) throw new Error(`${pod}/${container} is not running`);
    process.kill(pid, 'SIGKILL');
  }

  async restartCount(pod: string, container: string): Promise<number> {
    this.get(pod);
    return Number(podman(['inspect', `${pod}-${container}`, '--format', '{{.RestartCount}}']).trim());
  }

  async stopPod(
    pod: string,
    graceSeconds: number,
  ): Promise<{ exitCodes: Record<string, number>; ms: number }> {
    const p = this.get(pod);
    const started = Date.now();
    podman(['pod', 'stop', '--time', String(graceSeconds), pod]);
    const ms = Date.now() - started;
    const exitCodes: Record<string, number> = {};
    for (const c of p.pod.spec.containers) {
      exitCodes[c.name] = Number(
        podman(['inspect', `${pod}-${c.name}`, '--format', '{{.State.ExitCode}}']).trim(),
      );
    }
    return { exitCodes, ms };
  }

  async deletePod(pod: string): Promise<void> {
    const p = this.get(pod);
    this.remove(p);
    this.played.delete(pod);
  }

  private remove(p: Played): void {
    podman(['pod', 'stop', '--time', '2', p.pod.metadata.name], { allowFail: true });
    podman(['kube', 'down', p.file], { allowFail: true });
    podman(['pod', 'rm', '--force', p.pod.metadata.name], { allowFail: true });
    for (const v of p.volumes) podman(['volume', 'rm', '--force', v], { allowFail: true });
  }

  async waitReady(pod: string, timeoutMs = 90_000): Promise<void> {
    const p = this.get(pod);
    await eventually(() => this.checkReady(p), { timeoutMs, intervalMs: 300, what: `pod ${pod} Ready` });
  }

  /** Throws the first reason the pod is not Ready: a container not running, a probe failing. */
  private async checkReady(p: Played): Promise<void> {
    const name = p.pod.metadata.name;
    for (const c of p.pod.spec.initContainers ?? []) {
      const [status, code] = podman([
        'inspect',
        `${name}-${c.name}`,
        '--format',
        '{{.State.Status}} {{.State.ExitCode}}',
      ])
        .trim()
        .split(' ');
      if (status !== 'exited' || code !== '0')
        throw new Error(`init container ${c.name}: ${status} (exit ${code})`);
    }
    for (const c of p.pod.spec.containers) {
      const status = podman(['inspect', `${name}-${c.name}`, '--format', '{{.State.Status}}']).trim();
      if (status !== 'running') throw new Error(`container ${c.name}: ${status}`);
      const probe = c.readinessProbe;
      if (probe?.httpGet) {
        const port =
          typeof probe.httpGet.port === 'number'
            ? probe.httpGet.port
            : (c.ports ?? []).find((x: { name?: string }) => x.name === probe.httpGet.port)?.containerPort;
        const url = `http://${p.ip}:${port}${probe.httpGet.path ?? '/'}`;
        const res = await fetch(url, { signal: AbortSignal.timeout(2_000) }).catch((err: Error) => {
          throw new Error(`container ${c.name}: readiness ${url}: ${err.message}`);
        });
        const body = await res.text();
        if (res.status < 200 || res.status >= 400) {
          throw new Error(`container ${c.name}: readiness ${url} -> ${res.status} ${body.slice(0, 200)}`);
        }
      } else if (probe?.exec) {
        const r = await this.exec(name, c.name, probe.exec.command);
        if (r.code !== 0)
          throw new Error(`container ${c.name}: readiness exec ${probe.exec.command.join(' ')} -> ${r.code}`);
      }
    }
  }

  async dump(): Promise<string> {
    const out: string[] = [];
    for (const [name, p] of this.played) {
      out.push(`===== pod ${name} (podman pod inspect, podman ps) =====`);
      out.push(podman(['pod', 'inspect', name], { allowFail: true }));
      out.push(
        podman(
          ['ps', '-a', '--pod', '--filter', `pod=${name}`, '--format', '{{.Names}}  {{.Status}}  {{.Image}}'],
          { allowFail: true },
        ),
      );
      for (const c of allContainers(p.pod)) {
        const r = spawnSync('podman', ['logs', '--tail', '200', `${name}-${c.name}`], { encoding: 'utf8' });
        out.push(`----- logs ${name}/${c.name} -----\n${r.stdout}${r.stderr}`);
      }
    }
    return out.join('\n');
  }

  async down(): Promise<void> {
    for (const p of this.played.values()) this.remove(p);
    this.played.clear();
    for (const v of this.configMapVolumes) podman(['volume', 'rm', '--force', v], { allowFail: true });
    rmSync(this.work, { recursive: true, force: true });
  }
}

export class PodmanDriver implements Driver {
  readonly name = 'podman' as const;

  hostAddress(): string {
    return 'host.containers.internal'; // in every container's /etc/hosts: the host, from the pod network
  }

  async prepare(): Promise<void> {
    buildNodeBase();
    buildStandIns();
    const missing: string[] = [];
    // E2E_IMAGES=source builds the release target instead (pnpm build inside the image, with
    // local stand-ins for node:24 and distroless; needs the npm registry from containers).
    const { E2E_IMAGES: images = 'prebuilt' } = process.env;
    for (const c of COMPONENTS) {
      if (images === 'source') buildComponentFromSource(c);
      else if (existsSync(join(repoRoot, 'packages', c, 'dist/main.js'))) buildComponent(c);
      else missing.push(c);
    }
    if (missing.length > 0) {
      process.stderr.write(
        `e2e(podman): no dist/main.js for ${missing.join(', ')}; pods using them will fail\n`,
      );
    }
  }

  async apply(target: string | readonly string[]): Promise<Deployment> {
    const dir = targetName(target);
    const objects = render(target).map(secretAsConfigMap);
    const unsupported = objects.filter(
      (o) => !['Pod', 'Deployment', 'ConfigMap', 'Service'].includes(o.kind),
    );
    if (unsupported.length > 0) {
      throw new Error(
        `podman driver: cannot run ${unsupported.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`,
      );
    }
    const configMaps = objects.filter((o) => o.kind === 'ConfigMap');
    // Services are not run by podman; pods behind a headless Service go first so their DNS names exist.
    const workloads = objects
      .filter((o) => o.kind === 'Pod' || o.kind === 'Deployment')
      .sort((a, b) => Number(Boolean(podOf(b).spec.subdomain)) - Number(Boolean(podOf(a).spec.subdomain)));
    const dep = new PodmanDeployment(dir, mkdtempSync(join(tmpdir(), 'multipod-e2e-')), configMaps);
    return bringUp(dep, async () => {
      for (const w of workloads) await dep.play(w);
      for (const w of workloads) await dep.waitReady(podOf(w).metadata.name);
    });
  }

  async cleanup(): Promise<string[]> {
    // Anything a crashed worker left behind: every multipod pod.
    const left = podman(
      ['pod', 'ps', '--filter', 'label=app.kubernetes.io/part-of=multipod', '--format', '{{.Name}}'],
      {
        allowFail: true,
      },
    )
      .split('\n')
      .filter(Boolean);
    for (const name of left) {
      podman(['pod', 'rm', '--force', '--time', '2', name], { allowFail: true });
    }
    return left;
  }
}

/**
 * The pod an object runs under podman: a Pod itself, or a Deployment's one replica, named
 * `<name>-pod-0` as `kube play` names it. The spec is the object's own, so the driver's edits
 * reach the document it plays.
 */
export function podOf(o: K8sObject): K8sObject {
  if (o.kind !== 'Deployment') return o;
  if ((o.spec.replicas ?? 1) !== 1)
    throw new Error(`Deployment ${o.metadata.name}: replicas ${o.spec.replicas}; this driver runs one`);
  const template = o.spec.template;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...template.metadata, name: `${o.metadata.name}-pod-0` },
    spec: template.spec,
  };
}

/**
 * podman 4.3's `kube play` has no Secret (Secrets came in 4.5): a Secret becomes a ConfigMap with
 * the same name and decoded data, and a pod's `secret:` volume a `configMap:` volume. The
 * container sees the same files; what differs is only where the cluster keeps them.
 */
function secretAsConfigMap(o: K8sObject): K8sObject {
  if (o.kind === 'Secret') {
    const data: Record<string, string> = { ...(o.stringData ?? {}) };
    for (const [k, v] of Object.entries((o.data ?? {}) as Record<string, string>))
      data[k] = Buffer.from(v, 'base64').toString('utf8');
    return { apiVersion: 'v1', kind: 'ConfigMap', metadata: o.metadata, data };
  }
  const specOf = (x: K8sObject) => (x.kind === 'Deployment' ? x.spec.template.spec : x.spec);
  if (
    (o.kind === 'Pod' || o.kind === 'Deployment') &&
    (specOf(o).volumes ?? []).some((v: { secret?: unknown }) => v.secret)
  ) {
    const pod = structuredClone(o);
    for (const v of specOf(pod).volumes) {
      if (!v.secret) continue;
      v.configMap = {
        name: v.secret.secretName,
        ...(v.secret.defaultMode ? { defaultMode: v.secret.defaultMode } : {}),
      };
      delete v.secret;
    }
    return pod;
  }
  return o;
}
